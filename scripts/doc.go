// Package scripts holds only tests: they run the shell scripts of this
// directory (install-deps.sh, version.sh, deb-changelog.sh) against scratch
// files, fake commands and throwaway git repositories.
package scripts
