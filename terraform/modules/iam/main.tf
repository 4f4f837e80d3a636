# One service account per component, and the few project-wide roles that have no
# narrower resource to be granted on. Grants on a queue, topic, secret, bucket or
# service live beside that resource, in its module.

variable "project_id" {
  type = string
}

variable "components" {
  description = "Component => service account id (6-30 characters)."
  type        = map(string)
}

variable "firestore_users" {
  description = "Components that read and write Firestore."
  type        = set(string)
}

variable "enqueuers" {
  description = "Components that create Cloud Tasks: they mint OIDC tokens as the push account, so they may act as it."
  type        = set(string)
}

resource "google_service_account" "component" {
  for_each = var.components

  project      = var.project_id
  account_id   = each.value
  display_name = "Utio ${each.key}"
}

# Tasks and Pub/Sub push sign their requests as this account; only it may invoke the
# runners and the push functions.
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "utio-push"
  display_name = "Utio task and push invoker"
}

# API Gateway calls the api function as this account.
resource "google_service_account" "gateway" {
  project      = var.project_id
  account_id   = "utio-gateway"
  display_name = "Utio API Gateway backend caller"
}

# Cloud Functions builds run as this account.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "utio-functions-build"
  display_name = "Utio functions build"
}

resource "google_project_iam_member" "firestore" {
  for_each = var.firestore_users

  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.component[each.key].email}"
}

resource "google_service_account_iam_member" "act_as_push" {
  for_each = var.enqueuers

  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.component[each.key].email}"
}

resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

output "emails" {
  description = "Component => service account email."
  value       = { for k, sa in google_service_account.component : k => sa.email }
}

output "push_email" {
  value = google_service_account.push.email
}

output "push_name" {
  value = google_service_account.push.name
}

output "gateway_email" {
  value = google_service_account.gateway.email
}

output "build_email" {
  value = google_service_account.build.email
}

output "build_id" {
  value = google_service_account.build.id
}
