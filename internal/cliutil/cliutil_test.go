package cliutil

import "testing"

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "750000": 750000, "500k": 500000, "2M": 2000000,
		"1.5M": 1500000, "2MB/s": 2000000, "1G": 1000000000} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "5T", "1e13", "0.4", "NaN", "nan", "Inf"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "65536": 65536, "256K": 256 << 10, "512M": 512 << 20,
		"1.5G": 3 << 29, "64KiB": 64 << 10, "2MB": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "5T", "2048G", "NaN"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}
