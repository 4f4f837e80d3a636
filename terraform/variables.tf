variable "project_id" {
  description = "The Google Cloud project that holds one environment of Utio."
  type        = string
}

variable "environment" {
  description = "staging or production; labels every resource and names nothing else."
  type        = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment is staging or production."
  }
}

variable "region" {
  description = "Region of every regional resource. It must offer API Gateway (europe-west1, europe-west2, us-central1, us-east1, asia-northeast1, australia-southeast1 among others)."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Firestore location: a multi-region (eur3, nam5) or the region. Cannot change after creation."
  type        = string
  default     = "eur3"
}

variable "runner_image" {
  description = "The device runner image, REGION-docker.pkg.dev/PROJECT/utio/runner:TAG (Cloud Build passes the commit's)."
  type        = string
}

variable "functions_zip" {
  description = "The functions source archive made by `python -m infra.package_functions`, relative to this directory."
  type        = string
  default     = "../build/functions.zip"
}

variable "runner_shards" {
  description = "How many runner shards (Cloud Run services utio-runner-0 … N-1), each one always-on instance."
  type        = number
  default     = 1
  validation {
    condition     = var.runner_shards >= 1 && var.runner_shards <= 100
    error_message = "runner_shards is between 1 and 100."
  }
}

variable "runner_shard_capacity" {
  description = "WhatsApp sessions one runner shard holds at most (UTIO_SHARD_CAPACITY); size it to runner_memory."
  type        = number
  default     = 500
  validation {
    condition     = var.runner_shard_capacity >= 1
    error_message = "runner_shard_capacity is at least 1."
  }
}

variable "runner_autoprovision" {
  description = "Let the runner create shards beyond runner_shards when every shard is full (UTIO_PROVISIONER=cloudrun; its account gets the utioRunnerProvisioner role). Off: the operator raises runner_shards. See docs/operations.md."
  type        = bool
  default     = false
}

variable "runner_cpu" {
  description = "vCPUs of one runner instance."
  type        = string
  default     = "1"
}

variable "runner_memory" {
  description = "Memory of one runner instance."
  type        = string
  default     = "2Gi"
}

variable "api_domain" {
  description = "Custom domain of the public API (api.example.com). Empty: no load balancer; the API answers on the gateway's *.gateway.dev host only."
  type        = string
  default     = ""
  validation {
    condition     = !endswith(var.api_domain, ".example")
    error_message = "api_domain is still the example in envs/*.tfvars: set your domain, or \"\" for none."
  }
}

variable "api_rate_limit_per_minute" {
  description = "Requests per minute one client IP may send to the API before Cloud Armor answers 429 (only with api_domain)."
  type        = number
  default     = 1200
}

variable "mail_from" {
  description = "Sender of the mails Utio sends to customers (quota, webhook and billing notices), as \"Name <address>\"; the SMTP server (secret utio-smtp-url) must accept it."
  type        = string
  validation {
    condition     = can(regex("^[^<>@]*<?[^<>@\\s]+@[^<>@\\s]+>?$", var.mail_from)) && !can(regex("\\.example>?$", var.mail_from))
    error_message = "mail_from is an address (\"Utio <no-reply@yourdomain>\"), not the example of envs/*.tfvars."
  }
}

variable "vat_home_country" {
  description = "The seller's EU country (two letters, FR): its customers pay its VAT even with a VAT number. Empty: none."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([A-Z]{2})?$", var.vat_home_country))
    error_message = "vat_home_country is a two-letter country code in capitals, or empty."
  }
}

variable "alert_emails" {
  description = "Addresses that get the alerts."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for e in var.alert_emails : !endswith(e, ".example")])
    error_message = "alert_emails still holds the example address of envs/*.tfvars: set yours."
  }
}

variable "sql_tier" {
  description = "Cloud SQL machine tier of the session store."
  type        = string
  default     = "db-g1-small"
}

variable "sql_high_availability" {
  description = "Regional (failover) Cloud SQL instead of zonal."
  type        = bool
  default     = false
}

variable "sql_disk_size_gb" {
  description = "Initial SSD size of the session store; it grows by itself."
  type        = number
  default     = 10
}

variable "deletion_protection" {
  description = "Protect the database, the session store and the runners from `terraform destroy`."
  type        = bool
  default     = true
}

variable "media_retention_days" {
  description = "Media objects older than this are deleted. An uploaded file is kept (and may be sent) for 30 days (shared/services/files.py KEEP), so its object must live longer."
  type        = number
  default     = 31
  validation {
    condition     = var.media_retention_days >= 31
    error_message = "media_retention_days is at least 31: a file may be sent for 30 days after its upload."
  }
}

variable "subnet_cidr" {
  description = "Subnet the runners reach the session store from (Direct VPC egress)."
  type        = string
  default     = "10.10.0.0/24"
}

variable "queue_overrides" {
  description = "Per queue name, attributes that replace the catalog's policy (max_dispatches_per_second, max_concurrent_dispatches, max_attempts, min_backoff, max_backoff, max_doublings, max_retry_duration, log_sampling_ratio)."
  type        = any
  default     = {}
}

variable "function_overrides" {
  description = "Per function target, attributes that replace the catalog's profile (memory, cpu, timeout, min_instances, max_instances, concurrency)."
  type        = any
  default     = {}
}

variable "secret_rotation" {
  description = "Per Terraform-made secret (UTIO_ADMIN_KEY, UTIO_WEBHOOK_SECRET_KEY, UTIO_SESSION_DB_URL), a label; a new label makes a new value. Change restart_generation with it."
  type        = map(string)
  default     = {}
}

variable "restart_generation" {
  description = "Change it (any new value) to roll every function and runner: new instances read the newest secret versions."
  type        = string
  default     = "1"
}

variable "dead_letter_alert_threshold" {
  description = "Dead letters waiting in events-dead-letter-hold above which the alert fires."
  type        = number
  default     = 0
}

variable "webhook_failure_ratio" {
  description = "Share of webhook delivery attempts without a 2xx, over 15 minutes, above which the alert fires."
  type        = number
  default     = 0.25
}

variable "firestore_error_threshold" {
  description = "Failed Firestore requests (server-side errors) per 5 minutes above which the alert fires."
  type        = number
  default     = 10
}

variable "self_signup" {
  description = "Whether anyone may create an account at /signup; false: accounts come from the operator (POST /v1/accounts with the admin key)."
  type        = bool
  default     = true
}
