# Cloud SQL for PostgreSQL: the WhatsApp session store (whatsmeow's SQL store) of every
# runner. Private IP only, TLS required, daily backups kept 14 days and point-in-time
# recovery over 7 days of write-ahead logs.

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "network_id" {
  type = string
}

variable "tier" {
  type = string
}

variable "high_availability" {
  type = bool
}

variable "disk_size_gb" {
  type = number
}

variable "deletion_protection" {
  type = bool
}

variable "password_rotation" {
  description = "A label; a new label makes a new password for the runners' database user."
  type        = string
}

resource "google_sql_database_instance" "sessions" {
  project             = var.project_id
  name                = "utio-sessions"
  region              = var.region
  database_version    = "POSTGRES_18"
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.tier
    edition                     = "ENTERPRISE"
    availability_type           = var.high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = 7
      backup_retention_settings {
        retained_backups = 14
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
  }

  lifecycle {
    # The disk grows by itself; disk_size is only its starting size.
    ignore_changes = [settings[0].disk_size]
  }
}

resource "google_sql_database" "whatsmeow" {
  project  = var.project_id
  instance = google_sql_database_instance.sessions.name
  name     = "whatsmeow"
}

resource "random_password" "runner" {
  length  = 40
  special = false
  keepers = {
    rotation = var.password_rotation
  }
}

resource "google_sql_user" "runner" {
  project  = var.project_id
  instance = google_sql_database_instance.sessions.name
  name     = "utio_runner"
  password = random_password.runner.result
}

output "dsn" {
  description = "What the runners connect with (stored as the UTIO_SESSION_DB_URL secret)."
  sensitive   = true
  value       = "postgres://${google_sql_user.runner.name}:${random_password.runner.result}@${google_sql_database_instance.sessions.private_ip_address}:5432/${google_sql_database.whatsmeow.name}?sslmode=require"
}

output "instance" {
  value = google_sql_database_instance.sessions.name
}

output "service_account" {
  description = "The instance's own account (writes exports to the backups bucket)."
  value       = google_sql_database_instance.sessions.service_account_email_address
}
