# Secret Manager secrets, one per entry of names.json's `secrets`, kept in the region.
# "generated" values are made here; "terraform" values come in `values`; "operator"
# values are added with gcloud and never pass through Terraform (docs/operations.md).

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "secrets" {
  description = "Environment variable => {id, source} (modules/catalog output `secrets`)."
  type        = map(object({ id = string, source = string }))
}

variable "values" {
  description = "Values of the secrets whose source is \"terraform\", by environment variable."
  type        = map(string)
  sensitive   = true
}

variable "rotation" {
  description = "Environment variable => label; a new label makes a new generated value."
  type        = map(string)
}

variable "accessors" {
  description = "\"ENV/component\" => {env, member}: who may read which secret."
  type        = map(object({ env = string, member = string }))
}

locals {
  generated = toset([for env, s in var.secrets : env if s.source == "generated"])
  supplied  = toset([for env, s in var.secrets : env if s.source == "terraform"])
}

resource "google_secret_manager_secret" "this" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = each.value.id

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}

resource "random_bytes" "generated" {
  for_each = local.generated

  length = 32
  keepers = {
    rotation = lookup(var.rotation, each.key, "initial")
  }
}

resource "google_secret_manager_secret_version" "generated" {
  for_each = local.generated

  secret      = google_secret_manager_secret.this[each.key].id
  secret_data = replace(replace(random_bytes.generated[each.key].base64, "+", "-"), "/", "_")

  # A rotation adds the new version before it destroys the old: `latest` always exists.
  lifecycle {
    create_before_destroy = true
  }
}

resource "google_secret_manager_secret_version" "supplied" {
  for_each = local.supplied

  secret      = google_secret_manager_secret.this[each.key].id
  secret_data = var.values[each.key]

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = var.accessors

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.env].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}

output "ids" {
  description = "Environment variable => secret id."
  value       = { for env, s in google_secret_manager_secret.this : env => s.secret_id }
}

output "ready" {
  description = "Depend on this so a service starts only once its Terraform-made secrets have a version."
  value = concat(
    [for v in google_secret_manager_secret_version.generated : v.id],
    [for v in google_secret_manager_secret_version.supplied : v.id],
  )
}
