// Package deploy holds what runs bmcemu outside a developer's shell, and
// the tests that keep it honest; it has no Go API.
//
//   - Containerfile and image.sh build the container image: a static
//     binary (CGO_ENABLED=0, built on the host, offline) on an empty base,
//     running as the unprivileged user 65532.
//   - chart/ is a Helm chart running a fleet sharded across a StatefulSet:
//     pod N runs `serve --shard auto/<replicas>`, and every member gets a
//     Service of its own mapping IPMI 623/UDP and Redfish 443/TCP to the
//     member's ports in its pod.
//
// The tests here render the chart with Helm's own library and decode every
// object strictly into the Kubernetes API types, then check each member's
// Service against the split cmd/internal/fleet computes (fleet.Shard) for
// the fleet file and flags the chart gives the pods. The image itself is
// built and its binary run by conformance/image_test.go.
package deploy
