// Package mancheck helps a command's tests check that its manual page
// (docs/man/*.md, the source of the installed man page) documents every flag
// the command's help lists, so that the page cannot fall behind the code.
package mancheck
