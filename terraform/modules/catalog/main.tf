# What Utio deploys, derived from the names the code uses. terraform/generated/names.json
# is written from shared/names.py by `python -m infra.generate`; every queue, topic,
# function, schedule and secret below comes from it, so a name added in the code is a
# resource here without another edit. terraform/generated/firestore.json, written from
# shared/indexes.py, holds the Firestore indexes and TTL policies the code's queries and
# documents need. This module creates nothing and needs no provider:
# tests/infra evaluates it offline with `terraform console`.

variable "queue_overrides" {
  description = "Per queue name, policy attributes that replace the defaults below."
  type        = any
  default     = {}
}

variable "function_overrides" {
  description = "Per function target, profile attributes that replace the defaults below."
  type        = any
  default     = {}
}

locals {
  names          = jsondecode(file("${path.module}/../../generated/names.json"))
  firestore      = jsondecode(file("${path.module}/../../generated/firestore.json"))
  message_queues = values(local.names.message_queues)

  # Cloud Tasks queues. Message tasks only hand a message id to the runner, which paces
  # sends per device; a task that cannot reach the runner is retried for a day, and a
  # runner that starts reloads its queued messages from Firestore anyway. Webhook tasks
  # are retried here only when webhook_deliver itself fails: the retry schedule for a
  # customer endpoint that fails is the code's (about a day), so two days here outlive it.
  queue_policies = {
    message = {
      max_dispatches_per_second = 500
      max_concurrent_dispatches = 200
      max_attempts              = -1
      min_backoff               = "1s"
      max_backoff               = "60s"
      max_doublings             = 5
      max_retry_duration        = "86400s"
      log_sampling_ratio        = 0.1
    }
    control = {
      max_dispatches_per_second = 50
      max_concurrent_dispatches = 50
      max_attempts              = -1
      min_backoff               = "1s"
      max_backoff               = "30s"
      max_doublings             = 4
      max_retry_duration        = "3600s"
      log_sampling_ratio        = 1.0
    }
    webhook = {
      max_dispatches_per_second = 200
      max_concurrent_dispatches = 1000
      max_attempts              = -1
      min_backoff               = "5s"
      max_backoff               = "600s"
      max_doublings             = 6
      max_retry_duration        = "172800s"
      log_sampling_ratio        = 1.0
    }
  }

  queue_roles = {
    for q in local.names.all_queues : q => (
      contains(local.message_queues, q) ? "message" : q == local.names.webhook_queue ? "webhook" : "control"
    )
  }

  queues = {
    for q, role in local.queue_roles : q => merge(
      local.queue_policies[role],
      { role = role },
      try(var.queue_overrides[q], {}),
    )
  }

  # Cloud Functions (2nd gen), one per target in names.json. `invoker` says who may call
  # it: the API Gateway ("gateway"), Cloud Tasks, Pub/Sub push and Cloud Scheduler
  # ("push"), or anyone ("public": Stripe, whose requests the function verifies by
  # signature). A target in names.json's `schedules` is a job: Cloud Scheduler calls it
  # (`schedule`, cron in UTC), one run at a time, for up to 30 minutes (Cloud
  # Scheduler's longest attempt).
  function_defaults = {
    ingress       = "ALLOW_INTERNAL_ONLY"
    invoker       = "push"
    memory        = "512Mi"
    cpu           = "1"
    timeout       = 60
    min_instances = 0
    max_instances = 20
    concurrency   = 20
    secrets       = []
    enqueues      = []
    publishes     = []
    media         = false
  }

  job_defaults = {
    timeout       = 1800
    min_instances = 0
    max_instances = 1
    concurrency   = 1
  }

  schedules = try(local.names.schedules, {})

  function_profiles = {
    api = {
      ingress       = "ALLOW_ALL"
      invoker       = "gateway"
      min_instances = 1
      max_instances = 100
      concurrency   = 40
      secrets       = ["UTIO_ADMIN_KEY", "UTIO_STRIPE_SECRET_KEY", "UTIO_WEBHOOK_SECRET_KEY", "UTIO_SMTP_URL"]
      enqueues      = local.names.all_queues
      publishes     = [local.names.events_topic]
      media         = true
    }
    webhook_fanout = { # makes deliveries' first attempts: what webhook_deliver needs
      max_instances = 50
      secrets       = ["UTIO_WEBHOOK_SECRET_KEY", "UTIO_SMTP_URL"]
      enqueues      = [local.names.webhook_queue]
      publishes     = [local.names.events_topic]
    }
    webhook_deliver = {
      max_instances = 100
      concurrency   = 40
      secrets       = ["UTIO_WEBHOOK_SECRET_KEY", "UTIO_SMTP_URL"]
      enqueues      = [local.names.webhook_queue]
      publishes     = [local.names.events_topic]
    }
    stripe_webhook = {
      ingress   = "ALLOW_ALL"
      invoker   = "public"
      secrets   = ["UTIO_STRIPE_SECRET_KEY", "UTIO_STRIPE_WEBHOOK_SECRET", "UTIO_SMTP_URL"]
      enqueues  = [local.names.runner_control_queue]
      publishes = [local.names.events_topic]
    }
    chat_cleanup = {
      publishes = [local.names.events_topic] # chat:delete events of the chats it deletes
    }
    events_sweep = {
      timeout   = 120                        # runs every minute (docs/events.md)
      publishes = [local.names.events_topic] # events of processes that died before relaying
    }
  }

  functions = {
    for t in local.names.function_targets : t => merge(
      local.function_defaults,
      { for k, v in local.job_defaults : k => v if contains(keys(local.schedules), t) },
      try(local.function_profiles[t], {}),
      try(var.function_overrides[t], {}),
      { name = "utio-${replace(t, "_", "-")}", schedule = lookup(local.schedules, t, null) },
    )
  }

  # The device runner (Cloud Run), for the same wiring as a function.
  runner = {
    secrets   = ["UTIO_SESSION_DB_URL", "UTIO_SMTP_URL"] # SMTP: non-operative device mails
    enqueues  = []
    publishes = [local.names.events_topic]
    media     = true
  }

  # Where each secret's value comes from: made by Terraform ("generated": 32 random
  # bytes, URL-safe base64), written by Terraform from other resources ("terraform"),
  # or added by the operator with gcloud ("operator"), which keeps it out of the state.
  secret_sources = {
    UTIO_ADMIN_KEY          = "generated"
    UTIO_WEBHOOK_SECRET_KEY = "generated"
    UTIO_SESSION_DB_URL     = "terraform"
  }

  secrets = {
    for env, id in local.names.secrets : env => {
      id     = id
      source = try(local.secret_sources[env], "operator")
    }
  }
}

output "names" {
  description = "names.json as Terraform reads it."
  value       = local.names
}

output "queues" {
  description = "Queue name => rate limits and retry policy."
  value       = local.queues
}

output "topics" {
  description = "Pub/Sub topics and subscriptions."
  value = {
    events                   = local.names.events_topic
    dead_letter              = local.names.events_dead_letter_topic
    fanout_subscription      = local.names.events_fanout_subscription
    dead_letter_subscription = local.names.events_dead_letter_subscription
  }
}

output "functions" {
  description = "Function target => deployment profile."
  value       = local.functions
}

output "runner" {
  description = "The device runner's wiring."
  value       = local.runner
}

output "firestore_indexes" {
  description = "Key => collection and ordered fields (field, and order or array_config)."
  value       = local.firestore.indexes
}

output "firestore_ttl" {
  description = "Key => collection and field of a TTL policy."
  value       = local.firestore.ttl
}

output "secrets" {
  description = "Environment variable => Secret Manager secret id and where its value comes from."
  value       = local.secrets
}
