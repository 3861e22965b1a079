// Package features holds the main user stories of nordkapp42 as Gherkin
// features (*.feature) and the godog steps that run them, from go test,
// against a real server process started by internal/e2e. The package has no
// code of its own outside its tests.
package features
