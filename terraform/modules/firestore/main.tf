# The Firestore database (the source of truth), its composite indexes and TTL policies
# (both from shared/indexes.py, through modules/catalog), point-in-time recovery (7 days)
# and scheduled backups (daily for a week, weekly for 14 weeks).

variable "project_id" {
  type = string
}

variable "location" {
  type = string
}

variable "deletion_protection" {
  type = bool
}

variable "indexes" {
  description = "Composite indexes: key => collection and ordered fields (field, and order ASCENDING|DESCENDING or array_config CONTAINS)."
  type = map(object({
    collection = string
    fields = list(object({
      field        = string
      order        = optional(string)
      array_config = optional(string)
    }))
  }))
}

variable "ttl" {
  description = "TTL policies: key => collection and the timestamp field after which Firestore deletes a document."
  type        = map(object({ collection = string, field = string }))
}

resource "google_firestore_database" "db" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.location
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.deletion_protection ? "ABANDON" : "DELETE"
}

resource "google_firestore_index" "this" {
  for_each = var.indexes

  project    = var.project_id
  database   = google_firestore_database.db.name
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.field
      order        = fields.value.order
      array_config = fields.value.array_config
    }
  }
}

# Firestore deletes a document once the time in this field has passed (usually within a
# day). The code never queries these fields: `index_config {}` turns their single-field
# indexes off, as Google advises for TTL timestamps (an indexed, ever-rising value caps a
# collection's write rate).
resource "google_firestore_field" "ttl" {
  for_each = var.ttl

  project    = var.project_id
  database   = google_firestore_database.db.name
  collection = each.value.collection
  field      = each.value.field

  ttl_config {}
  index_config {}
}

resource "google_firestore_backup_schedule" "daily" {
  project   = var.project_id
  database  = google_firestore_database.db.name
  retention = "604800s" # 7 days

  daily_recurrence {}
}

resource "google_firestore_backup_schedule" "weekly" {
  project   = var.project_id
  database  = google_firestore_database.db.name
  retention = "8467200s" # 14 weeks, the longest Firestore keeps a backup

  weekly_recurrence {
    day = "SUNDAY"
  }
}

output "database" {
  value = google_firestore_database.db.name
}
