// Package deploy holds the tests of the deployment files at the module root: the Dockerfile, its
// .dockerignore and compose.yaml.
//
// No Docker engine runs where these tests do, so they check the files themselves: compose.yaml is
// loaded with the compose-spec reference parser (the one Docker Compose uses), the Dockerfile is read
// as text, the .dockerignore is matched with the pattern matcher of Docker's build context, and the
// binary is built locally with exactly the Dockerfile's build command.
package deploy
