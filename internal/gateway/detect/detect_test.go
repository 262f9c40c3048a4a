package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

func lcg(n int) []float64 {
	s := int64(12345)
	out := make([]float64, n)
	for i := range out {
		s = (1103515245*s + 12345) % (1 << 31)
		out[i] = float64(s) / (1 << 31)
	}
	return out
}

// TestShapiroWilkReference checks W and p against SciPy's swilk (see
// testdata/shapiro_reference.py; SciPy computes in float32, hence the
// tolerances). The n=11 case is also R's shapiro.test: W = 0.7888, p = 0.0067.
func TestShapiroWilkReference(t *testing.T) {
	u := lcg(4000)
	sum4 := make([]float64, 1000)
	for i := range sum4 {
		sum4[i] = u[4*i] + u[4*i+1] + u[4*i+2] + u[4*i+3]
	}
	exp200 := make([]float64, 200)
	for i, v := range lcg(200) {
		exp200[i] = -math.Log(1 - v)
	}
	sq := make([]float64, 20)
	for i := range sq {
		sq[i] = float64((i + 1) * (i + 1))
	}
	sin50 := make([]float64, 50)
	for i := range sin50 {
		sin50[i] = math.Sin(float64(i)*0.7)*3 + float64(i)*0.01
	}
	for _, tc := range []struct {
		name string
		x    []float64
		w, p float64
	}{
		{"n3", []float64{1, 2, 4}, 0.9642857313156128, 0.6368856430053711},
		{"n5", []float64{2.1, 3.4, 1.9, 5.6, 4.4}, 0.9320847988128662, 0.6106548309326172},
		{"n7", []float64{148, 154, 158, 160, 161, 162, 166}, 0.9521778225898743, 0.7494742274284363},
		{"n11", []float64{148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236}, 0.7888147830963135, 0.006703833118081093},
		{"squares20", sq, 0.9061306715011597, 0.05380954220890999},
		{"sin50", sin50, 0.907497227191925, 0.0008577661355957389},
		{"sum4uniform1000", sum4, 0.9979899525642395, 0.2784501016139984},
		{"exponential200", exp200, 0.8374881744384766, 1.1040888797837767e-13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, p, err := ShapiroWilk(tc.x)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(w-tc.w) > 2e-6 {
				t.Errorf("W = %.9f, want %.9f", w, tc.w)
			}
			if math.Abs(p-tc.p) > 2e-3*tc.p+1e-9 {
				t.Errorf("p = %.9g, want %.9g", p, tc.p)
			}
		})
	}
}

func TestShapiroWilkRejects(t *testing.T) {
	for _, x := range [][]float64{nil, {1, 2}, {3, 3, 3, 3}, {1, math.NaN(), 2}, {1, math.Inf(1), 2}, make([]float64, 5001)} {
		if _, _, err := ShapiroWilk(x); err == nil {
			t.Errorf("accepted %v", x[:min(len(x), 4)])
		}
	}
	// Invariant under shift and scale.
	x := []float64{2.1, 3.4, 1.9, 5.6, 4.4, 7, 1.2, 3.3}
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = 1e6 + 1e-3*v
	}
	w1, _, _ := ShapiroWilk(x)
	w2, _, _ := ShapiroWilk(y)
	if math.Abs(w1-w2) > 1e-7 {
		t.Errorf("W not affine invariant: %g vs %g", w1, w2)
	}
}

// natural draws i.i.d. rows from a mixture of Gaussians (a stand-in for
// natural data).
func natural(r *rand.Rand, n, dim, classes int) ([][]float64, []int) {
	centers := make([][]float64, classes)
	for c := range centers {
		centers[c] = make([]float64, dim)
		for j := range centers[c] {
			centers[c][j] = 4 * float64((c*7+j*3)%5-2)
		}
	}
	rows := make([][]float64, n)
	labels := make([]int, n)
	for i := range rows {
		c := r.IntN(classes)
		rows[i] = make([]float64, dim)
		for j := range rows[i] {
			rows[i][j] = centers[c][j] + r.NormFloat64()
		}
		labels[i] = c
	}
	return rows, labels
}

func TestPRADABenignVersusSynthetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const dim = 8
	p := NewPRADA(PRADAConfig{Threshold: 0.9})
	rows, labels := natural(r, 600, dim, 3)
	var last Verdict
	for i := range rows {
		last = p.Observe("benign", rows[i], labels[i])
		if last.Triggered {
			t.Fatalf("benign stream triggered at query %d: %+v", i, last)
		}
	}
	if math.IsNaN(last.Score) {
		t.Fatal("no test ran on the benign stream")
	}
	t.Logf("benign W = %.4f", last.Score)

	// Jacobian-style augmentation (Papernot et al.): a few seeds, then
	// each round adds x ± λ·sign(direction) for every point so far.
	seeds := rows[:10]
	set := append([][]float64(nil), seeds...)
	triggered := -1
	q := 0
	for round := 0; round < 6 && triggered < 0; round++ {
		n := len(set)
		for i := range n {
			x := make([]float64, dim)
			for j := range x {
				s := 1.0
				if r.IntN(2) == 0 {
					s = -1
				}
				x[j] = set[i][j] + 0.1*s
			}
			set = append(set, x)
			v := p.Observe("thief", x, labels[i%10])
			q++
			if v.Triggered && triggered < 0 {
				triggered = q
				t.Logf("synthetic stream: W = %.4f after %d queries", v.Score, q)
			}
		}
	}
	if triggered < 0 {
		t.Fatal("synthetic extraction stream not detected")
	}
}

func TestPRADABounded(t *testing.T) {
	p := NewPRADA(PRADAConfig{MaxIdentities: 5, MaxGrowing: 20, Window: 100})
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		x := []float64{r.Float64(), r.Float64()}
		p.Observe(string(rune('a'+i%10)), x, i%3)
	}
	if p.Identities() != 5 {
		t.Fatalf("%d identities tracked, want 5", p.Identities())
	}
	st := p.ids.get("j")
	if st.stored > 20 || len(st.d.buf) > 100 {
		t.Fatalf("state grew past its bounds: %d vectors, %d distances", st.stored, len(st.d.buf))
	}
}

func TestSimilarityNearDuplicates(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rows, _ := natural(r, 400, 6, 3)
	thr := CalibrateSimilarity(rows[:300], 10, 0.001, nil)
	if thr <= 0 {
		t.Fatalf("threshold %g", thr)
	}
	s := NewSimilarity(SimilarityConfig{K: 10, Threshold: thr})
	for i, x := range rows[300:] {
		if v := s.Observe("benign", x); v.Triggered {
			t.Fatalf("benign query %d triggered: %+v (threshold %g)", i, v, thr)
		}
	}
	// A boundary attack: tiny random steps around one starting point.
	x := rows[0]
	hit := -1
	for i := range 100 {
		y := make([]float64, len(x))
		for j := range y {
			y[j] = x[j] + 0.01*r.NormFloat64()
		}
		if v := s.Observe("attacker", y); v.Triggered {
			hit = i
			break
		}
		x = y
	}
	if hit < 0 {
		t.Fatal("near-duplicate stream not detected")
	}
	if hit > 11 {
		t.Fatalf("detected only after %d queries", hit)
	}
}

func TestQuickselect(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		n := 1 + r.IntN(50)
		d := make([]float64, n)
		for i := range d {
			d[i] = float64(r.IntN(10))
		}
		k := 1 + r.IntN(n)
		got := meanSmallest(append([]float64(nil), d...), k)
		s := append([]float64(nil), d...)
		for i := range s {
			for j := i + 1; j < len(s); j++ {
				if s[j] < s[i] {
					s[i], s[j] = s[j], s[i]
				}
			}
		}
		want := 0.0
		for _, v := range s[:k] {
			want += v
		}
		want /= float64(k)
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("meanSmallest(%v, %d) = %g, want %g", d, k, got, want)
		}
	}
}

func TestDriftPSI(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	ref, _ := natural(r, 2000, 3, 1)
	p, err := BuildProfile(ref, []string{"a", "b", "c"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDrift(p, DriftConfig{Window: 500})
	if err != nil {
		t.Fatal(err)
	}
	same, _ := natural(r, 500, 3, 1)
	var v Verdict
	var ok bool
	for _, x := range same {
		v, ok = d.Observe(x)
	}
	if !ok || v.Triggered || v.Score > 0.1 {
		t.Fatalf("same distribution: %+v ok=%v", v, ok)
	}
	for _, x := range same {
		x[1] += 1.5
		v, ok = d.Observe(x)
	}
	if !ok || !v.Triggered || v.Feature != "b" {
		t.Fatalf("shifted feature b: %+v ok=%v", v, ok)
	}
	if got := PSI([]float64{0.5, 0.5}, []int{50, 50}); got != 0 {
		t.Fatalf("PSI of identical = %g", got)
	}
	// (0.9-0.5)ln(0.9/0.5) + (0.1-0.5)ln(0.1/0.5)
	if got, want := PSI([]float64{0.5, 0.5}, []int{90, 10}), 0.4*math.Log(1.8)+0.4*math.Log(5); math.Abs(got-want) > 1e-12 {
		t.Fatalf("PSI = %g, want %g", got, want)
	}
}

func TestProfileParse(t *testing.T) {
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{`{"features":[{"name":"a","min":0,"max":1,"mean":0.5,"std":0.2,"edges":[0.5],"expected":[0.4,0.6]}]}`, true},
		{`{"features":[{"name":"a","min":0,"max":1,"mean":0.5,"std":0.2}]}`, true},
		{`{"features":[]}`, false},
		{`{"features":[{"name":"a","min":2,"max":1}]}`, false},
		{`{"features":[{"name":"a","min":0,"max":1,"edges":[0.5],"expected":[0.4]}]}`, false},
		{`{"features":[{"name":"a","min":0,"max":1,"edges":[0.6,0.5],"expected":[0.4,0.3,0.3]}]}`, false},
		{`{"features":[{"name":"a","min":0,"max":1,"edges":[0.5],"expected":[0.9,0.9]}]}`, false},
		{`{"features":[{"name":"a","min":0,"max":1}],"extra":1}`, false},
		{`{"features":[{"name":"a","min":0,"max":1}]} {}`, false},
	} {
		_, err := ParseProfile([]byte(tc.doc))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.doc, err, tc.ok)
		}
	}
	p, _ := ParseProfile([]byte(`{"features":[{"name":"a","min":0,"max":1},{"name":"b","min":-1,"max":1}]}`))
	if err := p.CheckRow([]float64{0.5, 0}, 0); err != nil {
		t.Error(err)
	}
	if err := p.CheckRow([]float64{1.5, 0}, 0); err == nil {
		t.Error("out of range accepted")
	}
	if err := p.CheckRow([]float64{1.05, 0}, 0.1); err != nil {
		t.Errorf("within tolerance refused: %v", err)
	}
}

func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(`{"features":[{"name":"a","min":0,"max":1,"mean":0.5,"std":0.2,"edges":[0.5],"expected":[0.4,0.6]}]}`))
	f.Add([]byte(`{"features":[{"name":"a","min":0,"max":1}],"similarity_threshold":0.3,"similarity_k":20}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile(data)
		if err != nil {
			return
		}
		row := make([]float64, len(p.Features))
		_ = p.CheckRow(row, 0.1)
		if d, err := NewDrift(p, DriftConfig{Window: 1}); err == nil {
			d.Observe(row)
		}
	})
}

func BenchmarkShapiroWilk1000(b *testing.B) {
	x := lcg(1000)
	for b.Loop() {
		_, _, _ = ShapiroWilk(x)
	}
}

func BenchmarkPRADAObserve(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	rows, labels := natural(r, 4096, 8, 3)
	p := NewPRADA(PRADAConfig{})
	i := 0
	for b.Loop() {
		p.Observe("id", rows[i%len(rows)], labels[i%len(rows)])
		i++
	}
}

func BenchmarkSimilarityObserve(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	rows, _ := natural(r, 4096, 8, 3)
	s := NewSimilarity(SimilarityConfig{K: 20, Threshold: 1e-9})
	i := 0
	for b.Loop() {
		s.Observe("id", rows[i%len(rows)])
		i++
	}
}
