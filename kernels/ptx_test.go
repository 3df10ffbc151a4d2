package kernels

import (
	"regexp"
	"strings"
	"testing"
)

// The launcher's parameter lists (Kernels) match the kernels in the
// committed PTX: the same names, parameter counts and kinds (pointers and
// long long are .u64, doubles .f64).
func TestKernelsMatchPTX(t *testing.T) {
	entry := regexp.MustCompile(`\.visible \.entry (\w+)\(([^)]*)\)`)
	param := regexp.MustCompile(`\.param \.(\w+) `)
	for arch, ptx := range map[string]string{"compute_80": PTX80, "compute_90": PTX90} {
		if !strings.Contains(ptx, ".target sm_"+arch[len("compute_"):]) {
			t.Fatalf("%s PTX has the wrong target", arch)
		}
		found := map[string]string{}
		for _, m := range entry.FindAllStringSubmatch(ptx, -1) {
			var kinds []byte
			for _, p := range param.FindAllStringSubmatch(m[2], -1) {
				switch p[1] {
				case "u64":
					kinds = append(kinds, 'u')
				case "f64":
					kinds = append(kinds, 'f')
				default:
					t.Fatalf("%s: %s has a .%s parameter: kernels take 8-byte words only", arch, m[1], p[1])
				}
			}
			found[m[1]] = string(kinds)
		}
		if len(found) != len(Kernels) {
			t.Fatalf("%s PTX has %d kernels, Kernels lists %d", arch, len(found), len(Kernels))
		}
		for name, sig := range Kernels {
			want := strings.NewReplacer("p", "u", "i", "u").Replace(sig)
			if found[name] != want {
				t.Errorf("%s: %s has parameters %q in the PTX, the launcher passes %q", arch, name, found[name], sig)
			}
		}
	}
}

func TestCheckArgs(t *testing.T) {
	if err := CheckArgs("dg_clean", []any{int64(3), Ptr(1), Ptr(2)}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]any{{Ptr(1), Ptr(1), Ptr(2)}, {int64(3), Ptr(1)}, {3, Ptr(1), Ptr(2)}} {
		if err := CheckArgs("dg_clean", args); err == nil {
			t.Errorf("CheckArgs accepted %v", args)
		}
	}
	if err := CheckArgs("dg_nothing", nil); err == nil {
		t.Error("unknown kernel accepted")
	}
}
