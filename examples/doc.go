// Package examples holds component YAML that runs as it is: `make run`
// deploys this folder, and the tests here validate every file and run the
// examples end to end over real sockets.
package examples
