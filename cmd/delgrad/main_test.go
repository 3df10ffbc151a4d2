package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEvalBuiltin(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"eval", "-workers", "2"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "accuracy 97.50% (975 correct)") {
		t.Fatalf("output %q lacks the pretrained network's 97.50%%", out.String())
	}
}

func TestBadInvocations(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"eval", "-net", t.TempDir()}, "network.json"},
		{[]string{"eval", "-data", t.TempDir()}, "test_samples.npy"},
		{[]string{"eval", "-bogus"}, "flag provided but not defined"},
		{[]string{"eval", "-split", "nosuch"}, "nosuch"},
		{[]string{"resume"}, "-run DIR"},
		{[]string{"resume", "-run", t.TempDir()}, "config.toml"},
		{[]string{"export", "-run", t.TempDir()}, "-out DIR"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		err := run(c.args, &out, &errb)
		var ue usageError
		if err == nil || !errors.As(err, &ue) {
			t.Errorf("%v: error %v, want a usage error (exit code 2)", c.args, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %q, want it to mention %q", c.args, err, c.want)
		}
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	for _, c := range commands() {
		var out, errb bytes.Buffer
		err := run([]string{c.name, "-h"}, &out, &errb)
		if !errors.Is(err, errHelp) || exitCode(err) != 0 {
			t.Errorf("%s -h: %v, want errHelp (exit 0)", c.name, err)
		}
		if !strings.Contains(out.String(), "usage: delgrad "+c.name) || errb.Len() > 0 {
			t.Errorf("%s -h printed no usage on stdout, or wrote to stderr:\nstdout %q\nstderr %q", c.name, out.String(), errb.String())
		}
	}
}
