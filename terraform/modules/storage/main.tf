# Buckets: media (message attachments, deleted after media_retention_days), function
# sources (the zips Terraform uploads) and backups (Firestore and Cloud SQL exports).

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "media_retention_days" {
  type = number
}

variable "media_users" {
  description = "Component => member that reads and writes media."
  type        = map(string)
}

variable "source_readers" {
  description = "Members that read function sources (the functions build account)."
  type        = map(string)
}

variable "backup_writers" {
  description = "Name => member that writes exports (the Firestore and Cloud SQL service agents)."
  type        = map(string)
}

resource "google_storage_bucket" "media" {
  project                     = var.project_id
  name                        = "${var.project_id}-utio-media"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.media_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-utio-sources"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 180
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "backups" {
  project                     = var.project_id
  name                        = "${var.project_id}-utio-backups"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }

  lifecycle_rule {
    condition {
      age = 400
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_iam_member" "media" {
  for_each = var.media_users

  bucket = google_storage_bucket.media.name
  role   = "roles/storage.objectUser"
  member = each.value
}

resource "google_storage_bucket_iam_member" "sources" {
  for_each = var.source_readers

  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = each.value
}

resource "google_storage_bucket_iam_member" "backups" {
  for_each = var.backup_writers

  bucket = google_storage_bucket.backups.name
  role   = "roles/storage.objectAdmin"
  member = each.value
}

output "media_bucket" {
  value = google_storage_bucket.media.name
}

output "sources_bucket" {
  value = google_storage_bucket.sources.name
}

output "backups_bucket" {
  value = google_storage_bucket.backups.name
}
