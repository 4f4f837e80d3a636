# A private network for what must not be on the internet: the session store's private
# IP, reached by the runners through Direct VPC egress. Everything else the runners
# reach (WhatsApp, Google APIs) goes out directly, so no NAT is needed.

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "subnet_cidr" {
  type = string
}

resource "google_compute_network" "vpc" {
  project                 = var.project_id
  name                    = "utio"
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "runners" {
  project                  = var.project_id
  name                     = "utio-runners"
  region                   = var.region
  network                  = google_compute_network.vpc.id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Nothing enters the network: the runners only connect out, and Cloud SQL is reached over
# the peering. This rule states it (and logs what it refuses).
resource "google_compute_firewall" "deny_ingress" {
  project   = var.project_id
  name      = "utio-deny-all-ingress"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Private services access, for Cloud SQL's private IP.
resource "google_compute_global_address" "private_services" {
  project       = var.project_id
  name          = "utio-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
  deletion_policy         = "ABANDON"
}

output "network_id" {
  value = google_compute_network.vpc.id
}

output "subnet_id" {
  value = google_compute_subnetwork.runners.id
}

output "private_services_connection" {
  description = "Depend on this before creating private-IP Cloud SQL."
  value       = google_service_networking_connection.private_services.id
}
