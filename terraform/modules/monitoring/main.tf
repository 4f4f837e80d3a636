# Alert policies, each with what to do in its documentation (docs/operations.md, "Reading
# the alerts"): a runner shard down, dead letters, the webhook failure rate, and
# Firestore errors. Notifications go by email.

variable "project_id" {
  type = string
}

variable "emails" {
  type = list(string)
}

variable "runner_services" {
  description = "Cloud Run service names of the runner shards."
  type        = list(string)
}

variable "deliver_service" {
  description = "Cloud Run service name of webhook_deliver."
  type        = string
}

variable "fanout_subscription" {
  type = string
}

variable "dead_letter_subscription" {
  type = string
}

variable "dead_letter_threshold" {
  type = number
}

variable "webhook_failure_ratio" {
  type = number
}

variable "firestore_error_threshold" {
  type = number
}

locals {
  runbook = "docs/operations.md, section \"Reading the alerts\""
  runners = join(", ", [for s in var.runner_services : "\"${s}\""])
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.emails)

  project      = var.project_id
  display_name = "Utio alerts: ${each.key}"
  type         = "email"
  labels = {
    email_address = each.key
  }
}

locals {
  channels = [for c in google_monitoring_notification_channel.email : c.id]
}

resource "google_monitoring_alert_policy" "runner_down" {
  project               = var.project_id
  display_name          = "Utio: runner shard down"
  combiner              = "OR"
  notification_channels = local.channels

  conditions {
    display_name = "A shard reports no running instance for 5 minutes"
    condition_absent {
      filter   = "metric.type=\"run.googleapis.com/container/instance_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=one_of(${local.runners})"
      duration = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  conditions {
    display_name = "A shard runs fewer than one active instance for 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/container/instance_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=one_of(${local.runners}) AND metric.label.state=\"active\""
      comparison      = "COMPARISON_LT"
      threshold_value = 1
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A device runner shard has no running instance: the WhatsApp sessions it holds are offline and their messages wait in Firestore (none is lost). See ${local.runbook}."
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "Utio: events dead-lettered"
  combiner              = "OR"
  notification_channels = local.channels

  conditions {
    display_name = "Events moved to the dead-letter topic"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${var.fanout_subscription}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "Dead letters waiting to be read"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${var.dead_letter_subscription}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.dead_letter_threshold
      duration        = "600s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Events that webhook_fanout refused 10 times are in ${var.dead_letter_subscription}: their webhooks were not called. See ${local.runbook}."
  }
}

# One log line per delivery attempt (shared/services/webhooks/delivery.py, log_attempt:
# written by webhook_deliver, and by webhook_fanout for the first attempts it makes).
resource "google_logging_metric" "webhook_attempts" {
  project = var.project_id
  name    = "utio/webhook_attempts"
  filter  = "jsonPayload.utio_log=\"webhook_attempt\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "outcome"
      value_type = "STRING"
    }
  }

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
  }
}

resource "google_monitoring_alert_policy" "webhook_failures" {
  project               = var.project_id
  display_name          = "Utio: webhook failure rate"
  combiner              = "OR"
  notification_channels = local.channels

  conditions {
    display_name = "Share of delivery attempts without a 2xx"
    condition_threshold {
      filter             = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.webhook_attempts.name}\" AND metric.label.outcome=one_of(\"pending\", \"failed\")"
      denominator_filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.webhook_attempts.name}\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.webhook_failure_ratio
      duration           = "900s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "webhook_deliver answers 5xx"
    condition_threshold {
      filter             = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${var.deliver_service}\" AND metric.label.response_code_class=\"5xx\""
      denominator_filter = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${var.deliver_service}\""
      comparison         = "COMPARISON_GT"
      threshold_value    = 0.05
      duration           = "600s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Many webhook deliveries fail: customers' endpoints are down, or our outbound calls or webhook_deliver itself are broken. Deliveries are retried for about a day. See ${local.runbook}."
  }
}

resource "google_monitoring_alert_policy" "firestore_errors" {
  project               = var.project_id
  display_name          = "Utio: Firestore errors"
  combiner              = "OR"
  notification_channels = local.channels

  conditions {
    display_name = "Firestore requests failing on the server side"
    condition_threshold {
      filter          = "metric.type=\"firestore.googleapis.com/api/request_count\" AND metric.label.response_code=one_of(\"UNAVAILABLE\", \"DEADLINE_EXCEEDED\", \"INTERNAL\", \"RESOURCE_EXHAUSTED\", \"PERMISSION_DENIED\", \"UNAUTHENTICATED\", \"UNKNOWN\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.firestore_error_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.response_code"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Firestore, the source of truth, is refusing or failing requests: API calls and sends fail or stall. See ${local.runbook}."
  }
}

output "policies" {
  value = [
    google_monitoring_alert_policy.runner_down.display_name,
    google_monitoring_alert_policy.dead_letters.display_name,
    google_monitoring_alert_policy.webhook_failures.display_name,
    google_monitoring_alert_policy.firestore_errors.display_name,
  ]
}
