// Package integration tests the container, PyTorch and NumPy scanners
// through the full scanner registry (pickle engine included) against the
// committed fixtures, and holds the large-checkpoint benchmark. It is a
// separate package so that the format packages' own tests and fuzz targets
// build without the whole registry.
package integration
