package sweep

// TEMPORARY: a stand-in for the Slurm backend (sweep/slurm.go), written
// elsewhere; drop this file when that one is merged.

import "errors"

// SubmitSlurm would submit the sweep in dir as a Slurm job array whose
// task i runs `bin sweep -out DIR -task i`; this stand-in says the backend
// is not built yet.
func SubmitSlurm(dir string, p *Plan, bin string) (string, error) {
	return "", errors.New("the Slurm backend is not built yet")
}
