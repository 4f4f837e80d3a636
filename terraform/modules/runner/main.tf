# The device runner: one Cloud Run service per shard, each exactly one instance that is
# always on (min = max = 1, CPU always allocated) and holds its devices' WhatsApp
# sessions. Requests may last an hour (Cloud Run's longest), ingress is internal (Cloud
# Tasks, the API and the other shards, all of this project) and only the invokers may
# call it: the push account (tasks), the api function (pairing codes, number checks,
# profile) and the runner itself (a shard forwarding to the holder), each with an ID
# token. It reaches the session store over Direct VPC egress; everything else goes out
# directly. With provision on, the runner's account may also create further shards
# (device_runner/provisioner.py) as copies of runner-0, running as itself.

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

variable "invokers" {
  description = "Name => member allowed to call every shard: the push account (tasks), the api function's and the runner's own accounts. Names are static so that for_each keys are known at plan time."
  type        = map(string)
}

variable "url_format" {
  description = "Cloud Run's deterministic service URL with %s for the service name: each shard is told its own (UTIO_RUNNER_SELF_URL)."
  type        = string
}

variable "provision" {
  description = "Whether the runner's account may create shards beyond var.shards when all are full (UTIO_PROVISIONER=cloudrun)."
  type        = bool
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
        for_each = merge(var.environment, {
          UTIO_RUNNER_SHARD    = each.key
          UTIO_RUNNER_SELF_URL = format(var.url_format, "utio-${each.key}")
          UTIO_PROVISIONER     = var.provision ? "cloudrun" : "none"
        })
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
  for_each = {
    for pair in setproduct(var.shards, keys(var.invokers)) : "${pair[0]}/${pair[1]}" => {
      shard  = pair[0]
      member = var.invokers[pair[1]]
    }
  }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.shard[each.value.shard].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# Provisioning (off unless var.provision): what CloudRunProvisioner calls, and no more
# than that: read runner-0 and its IAM policy, create the new service, give it runner-0's
# invokers, wait for the operation. Cloud Run has no narrower scope than the project for
# creating a service, so this role reaches every Cloud Run service of the project (which
# is why provisioning is off by default: docs/operations.md).
resource "google_project_iam_custom_role" "provisioner" {
  count = var.provision ? 1 : 0

  project     = var.project_id
  role_id     = "utioRunnerProvisioner"
  title       = "Utio runner provisioner"
  description = "Create a device-runner shard as a copy of utio-runner-0 (device_runner/provisioner.py)."
  permissions = [
    "run.services.get",
    "run.services.create",
    "run.services.getIamPolicy",
    "run.services.setIamPolicy",
    "run.operations.get",
  ]
}

resource "google_project_iam_member" "provisioner" {
  count = var.provision ? 1 : 0

  project = var.project_id
  role    = google_project_iam_custom_role.provisioner[0].id
  member  = "serviceAccount:${var.service_account}"
}

# A new shard runs as the runner's account, which creating it needs actAs on.
resource "google_service_account_iam_member" "provisioner_act_as_runner" {
  count = var.provision ? 1 : 0

  service_account_id = "projects/${var.project_id}/serviceAccounts/${var.service_account}"
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.service_account}"
}

output "urls" {
  description = "Shard => HTTPS URL."
  value       = { for shard, s in google_cloud_run_v2_service.shard : shard => s.uri }
}

output "services" {
  description = "Shard => Cloud Run service name."
  value       = { for shard, s in google_cloud_run_v2_service.shard : shard => s.name }
}
