package ledger_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

// TestHelperAppender is not a test: it is the child process the tests
// below start (re-executing the test binary) to append from another
// process. It appends MLSEC_CHILD_N events (0: until killed).
func TestHelperAppender(t *testing.T) {
	dsn := os.Getenv("MLSEC_CHILD_DSN")
	if dsn == "" {
		t.Skip("helper process")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, st, ledger.WithSignerKey(os.Getenv("MLSEC_CHILD_KEY")))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(os.Getenv("MLSEC_CHILD_N"))
	for i := 0; n == 0 || i < n; i++ {
		if _, err := l.Append(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func startChild(t *testing.T, f *fixture, n int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MLSEC_CHILD_DSN="+f.dsn, "MLSEC_CHILD_KEY="+f.skey, "MLSEC_CHILD_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// Several processes appending at once never fork the log.
func TestMultiProcessAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		f := newLedger(t, b)
		const procs, per = 3, 40
		var cmds []*exec.Cmd
		for i := 0; i < procs; i++ {
			cmds = append(cmds, startChild(t, f, per))
		}
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("child: %v", err)
			}
		}
		ctx := context.Background()
		res, err := f.l.Verify(ctx, f.vkey)
		if err != nil {
			t.Fatal(err)
		}
		if res.Size != procs*per {
			t.Fatalf("size %d, want %d", res.Size, procs*per)
		}
	})
}

// A process killed (SIGKILL) in the middle of appending leaves a log that
// verifies, and that can be appended to again.
func TestKilledAppenderLeavesValidLog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newLedger(t, b)
		for round := 0; round < 3; round++ {
			before, _ := f.l.Size(ctx)
			cmds := []*exec.Cmd{startChild(t, f, 0), startChild(t, f, 0)}
			deadline := time.Now().Add(60 * time.Second)
			for {
				n, err := f.l.Size(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n >= before+30+int64(round)*7 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("children appended only %d", n-before)
				}
				time.Sleep(5 * time.Millisecond)
			}
			for _, c := range cmds {
				_ = c.Process.Signal(syscall.SIGKILL)
				_ = c.Wait()
			}
			res, err := f.l.Verify(ctx, f.vkey)
			if err != nil {
				t.Fatalf("round %d: after SIGKILL: %v", round, err)
			}
			if _, err := f.l.Append(ctx, event(-1)); err != nil {
				t.Fatalf("append after kill: %v", err)
			}
			t.Logf("round %d: %d records verify after killing two appenders", round, res.Size)
		}
	})
}
