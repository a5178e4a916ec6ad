"""The health check a load balancer, systemd or a monitoring tool polls: /healthz."""
