package pii

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Kind
	}{
		{"jane.doe@example.org", Email},
		{"  ops+ml@data-team.example.co.uk ", Email},
		{"logo@2x.png", ""},
		{"git@github.com", ""},
		{"4111 1111 1111 1111", CreditCard},
		{"4111-1111-1111-1111", CreditCard},
		{"5555555555554444", CreditCard},
		{"378282246310005", CreditCard},
		{"3782 822463 10005", CreditCard},
		{"4111111111111112", ""},    // Luhn fails
		{"1234567812345670", ""},    // Luhn passes, no issuer
		{"4111 1111-1111 1111", ""}, // mixed separators
		{"GB82 WEST 1234 5698 7654 32", IBAN},
		{"DE89370400440532013000", IBAN},
		{"DE89370400440532013001", ""}, // check digits fail
		{"FR14 2004 1010 0505 0001 3M02 606", IBAN},
		{"536-90-4399", USSSN},
		{"000-12-3456", ""},
		{"666-12-3456", ""},
		{"912-12-3456", ""},
		{"078-05-1120", ""},
		{"AB 12 34 56 C", UKNINO},
		{"AB123456C", UKNINO},
		{"GB123456A", ""},
		{"4991 1866 5247", ""},
		{"4991 1866 5246", Aadhaar},
		{"12345678Z", SpanishID},
		{"12345678A", ""},
		{"X1234567L", SpanishID},
		{"+44 20 7946 0958", Phone},
		{"+1 (415) 555-2671", Phone},
		{"(212) 736-5000", Phone},
		{"+1 212-736-5000", Phone},
		{"2023-01-15", ""},
		{"12:30:45", ""},
		{"81.2.69.160", IPAddress},
		{"10.0.0.1", ""},
		{"127.0.0.1", ""},
		{"1.2.3.4", ""},
		{"2a00:1450:4009:81f::200e", IPAddress},
		{"fd00::1:2:3", ""},
		{"3.14159", ""},
		{"123456789", ""},
		{"hello world", ""},
	}
	for _, c := range cases {
		if got := Classify(c.in); got != c.want {
			t.Errorf("Classify(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	text := "name,email,card\nJane,jane.doe@example.org,4111 1111 1111 1111\n" +
		"Call +44 20 7946 0958 from 81.2.69.160; IBAN GB82 WEST 1234 5698 7654 32 THEN stop.\n" +
		"version 2.1.0.1 and torch==2.0.1, pi 3.14159, 1e-05, id 0x7f3a, at 2024-03-01 12:30:45\n"
	var got []string
	for _, m := range Find(text) {
		got = append(got, string(m.Kind)+"="+text[m.Start:m.End])
	}
	want := []string{"email=jane.doe@example.org", "credit-card=4111 1111 1111 1111",
		"phone=+44 20 7946 0958", "ip-address=81.2.69.160", "iban=GB82 WEST 1234 5698 7654 32"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Find:\n got %q\nwant %q", got, want)
	}
}

func TestChecks(t *testing.T) {
	t.Parallel()
	if !Luhn("79927398713") || Luhn("79927398710") {
		t.Error("Luhn")
	}
	if !Verhoeff("2363") || Verhoeff("2364") {
		t.Error("Verhoeff")
	}
	if !ValidIBAN("NO9386011117947") || ValidIBAN("NO9386011117948") {
		t.Error("IBAN")
	}
}

func TestHeaderKind(t *testing.T) {
	t.Parallel()
	cases := map[string]Kind{
		"Email": Email, "E-Mail": Email, "emailAddress": Email, "customer.email": Email,
		"Phone Number": Phone, "SSN": USSSN, "first_name": PersonName, "LastName": PersonName,
		"Date of Birth": DateOfBirth, "ip_address": IPAddress, "IBAN": IBAN, "card_number": CreditCard,
		"age": "", "income": "", "name": "", "label": "", "zip_code": PostalAddress,
	}
	for in, want := range cases {
		if got := HeaderKind(in); got != want {
			t.Errorf("HeaderKind(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzFind(f *testing.F) {
	f.Add("jane@example.org 4111 1111 1111 1111 GB82 WEST 1234 5698 7654 32 +44 20 7946 0958")
	f.Add("2a00:1450:4009:81f::200e 81.2.69.160 X1234567L AB 12 34 56 C 4991 1866 5246")
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range Find(s) {
			if m.Start < 0 || m.End > len(s) || m.Start >= m.End {
				t.Fatalf("bad span %+v", m)
			}
		}
		Classify(s)
		HeaderKind(s)
	})
}
