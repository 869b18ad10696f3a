// Package deploy holds no code: its test renders duban's Kubernetes
// manifests (deploy/duban, a kustomize base, and its production overlay)
// with kustomize's own library and decodes every object strictly into the
// Kubernetes API's Go types, offline. It is a module of its own so that
// duban does not depend on the Kubernetes libraries.
package deploy
