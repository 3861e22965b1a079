// Package deploy holds the deployment files of nordkapp42: the Docker
// Compose stack (docker-compose.yml with Prometheus and Grafana), the Helm
// chart (helm/nordkapp42) and its checks. It has no Go code of its own; its
// tests render the chart with the helm binary and check what operators rely
// on: probes, resources, security context, autoscaling, disruption budget,
// the single-node guard and the alerts.
package deploy
