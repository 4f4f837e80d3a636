# The device runner: one Cloud Run service per shard, each exactly one instance that is
# always on (min = max = 1, CPU always allocated) and holds its devices' WhatsApp
# sessions. Requests may last an hour (Cloud Run's longest), ingress is internal (only
# Cloud Tasks of this project reaches it) and only the push account may invoke it. It
# reaches the session store over Direct VPC egress; everything else goes out directly.

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "shards" {
  description = "Shard names (runner-0, runner-1, …); each is a service utio-<shard>."
  type        = list(string)
}

variable "image" {
  type = string
}

variable "cpu" {
  type = string
}

variable "memory" {
  type = string
}

variable "service_account" {
  type = string
}

variable "environment" {
  type = map(string)
}

variable "secrets" {
  description = "Environment variable => Secret Manager secret id."
  type        = map(string)
}

variable "network_id" {
  type = string
}

variable "subnet_id" {
  type = string
}

variable "invoker" {
  description = "Member allowed to send tasks (the push account)."
  type        = string
}

variable "deletion_protection" {
  type = bool
}

resource "google_cloud_run_v2_service" "shard" {
  for_each = toset(var.shards)

  project             = var.project_id
  location            = var.region
  name                = "utio-${each.key}"
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.deletion_protection

  template {
    service_account                  = var.service_account
    timeout                          = "3600s"
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    max_instance_request_concurrency = 80

    scaling {
      min_instance_count = 1
      max_instance_count = 1
    }

    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = var.network_id
        subnetwork = var.subnet_id
      }
    }

    containers {
      image = var.image

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = false
        startup_cpu_boost = true
      }

      ports {
        container_port = 8080
      }

      dynamic "env" {
        for_each = merge(var.environment, { UTIO_RUNNER_SHARD = each.key })
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secrets
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = 5
        timeout_seconds       = 3
        failure_threshold     = 24
        http_get {
          path = "/healthz"
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
        http_get {
          path = "/healthz"
        }
      }
    }
  }
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = google_cloud_run_v2_service.shard

  project  = var.project_id
  location = var.region
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = var.invoker
}

output "urls" {
  description = "Shard => HTTPS URL."
  value       = { for shard, s in google_cloud_run_v2_service.shard : shard => s.uri }
}

output "services" {
  description = "Shard => Cloud Run service name."
  value       = { for shard, s in google_cloud_run_v2_service.shard : shard => s.name }
}
