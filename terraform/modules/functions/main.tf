# Cloud Functions (2nd gen), one per function target, all built from one source archive
# (main.py, functions/, shared/, requirements.txt; see infra/package_functions.py). The
# archive is uploaded under its SHA-256, so the functions are rebuilt only when the code
# changed. Each runs as its own service account; who may invoke it follows its profile.

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "functions" {
  description = "Target => profile (modules/catalog output `functions`)."
  type        = any
}

variable "source_zip" {
  description = "Path of the functions archive."
  type        = string
}

variable "source_bucket" {
  type = string
}

variable "build_service_account" {
  description = "Resource id of the account builds run as."
  type        = string
}

variable "docker_repository" {
  description = "Artifact Registry repository (id) for the built images."
  type        = string
}

variable "service_accounts" {
  description = "Target => runtime service account email."
  type        = map(string)
}

variable "environment" {
  description = "Environment variables every function gets."
  type        = map(string)
}

variable "secret_ids" {
  description = "Environment variable => Secret Manager secret id."
  type        = map(string)
}

variable "invokers" {
  description = "Invoker kind (push, gateway) => member allowed to call functions of that kind."
  type        = map(string)
}

resource "google_storage_bucket_object" "source" {
  bucket = var.source_bucket
  name   = "functions/${filesha256(var.source_zip)}.zip"
  source = var.source_zip
}

resource "google_cloudfunctions2_function" "this" {
  for_each = var.functions

  project  = var.project_id
  location = var.region
  name     = each.value.name

  build_config {
    runtime           = "python311"
    entry_point       = each.key
    service_account   = var.build_service_account
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = var.service_accounts[each.key]
    ingress_settings                 = each.value.ingress
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    all_traffic_on_latest_revision   = true
    environment_variables            = var.environment

    dynamic "secret_environment_variables" {
      for_each = toset(each.value.secrets)
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = var.secret_ids[secret_environment_variables.value]
        version    = "latest"
      }
    }
  }
}

# Gen 2 functions are Cloud Run services of the same name: invoking one needs run.invoker.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = { for t, f in var.functions : t => f if f.invoker != "public" }

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this[each.key].name
  role     = "roles/run.invoker"
  member   = var.invokers[each.value.invoker]
}

# Stripe cannot sign in to Google: stripe_webhook is open to all and checks Stripe's
# signature on the raw body before anything else.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = { for t, f in var.functions : t => f if f.invoker == "public" }

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

output "urls" {
  description = "Target => HTTPS URL."
  value       = { for t, f in google_cloudfunctions2_function.this : t => f.service_config[0].uri }
}

output "names" {
  description = "Target => function (and Cloud Run service) name."
  value       = { for t, f in google_cloudfunctions2_function.this : t => f.name }
}
