# The events topic and its push subscription to webhook_fanout (OIDC-signed as the push
# account), with a dead-letter topic after 10 failed deliveries and a pull subscription
# that keeps dead letters a week for an operator to read and replay.

variable "project_id" {
  type = string
}

variable "topics" {
  description = "Topic and subscription names (modules/catalog output `topics`)."
  type        = map(string)
}

variable "fanout_endpoint" {
  description = "URL of the webhook_fanout function."
  type        = string
}

variable "push_service_account" {
  description = "Email of the account push requests are signed as."
  type        = string
}

variable "push_service_account_name" {
  description = "Resource name of that account."
  type        = string
}

variable "pubsub_agent" {
  description = "Email of the project's Pub/Sub service agent."
  type        = string
}

variable "publishers" {
  description = "\"topic/component\" => {topic, member}."
  type        = map(object({ topic = string, member = string }))
}

resource "google_pubsub_topic" "events" {
  project                    = var.project_id
  name                       = var.topics.events
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = var.topics.dead_letter
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "fanout" {
  project                    = var.project_id
  name                       = var.topics.fanout_subscription
  topic                      = google_pubsub_topic.events.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = var.fanout_endpoint
    oidc_token {
      service_account_email = var.push_service_account
      audience              = var.fanout_endpoint
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "dead_letter_hold" {
  project                    = var.project_id
  name                       = var.topics.dead_letter_subscription
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub itself mints the push OIDC tokens and moves messages to the dead-letter topic.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = var.push_service_account_name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${var.pubsub_agent}"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.pubsub_agent}"
}

resource "google_pubsub_subscription_iam_member" "fanout_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.fanout.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${var.pubsub_agent}"
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = var.publishers

  project = var.project_id
  topic   = each.value.topic == var.topics.events ? google_pubsub_topic.events.name : google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = each.value.member
}

output "events_topic" {
  value = google_pubsub_topic.events.id
}

output "dead_letter_subscription" {
  value = google_pubsub_subscription.dead_letter_hold.name
}
