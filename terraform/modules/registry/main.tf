# Artifact Registry: `utio` holds the runner images (tags are commits, never moved);
# `utio-functions` holds the images Cloud Functions builds from the sources.

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "function_builder" {
  description = "Member that pushes function images (the functions build account)."
  type        = string
}

resource "google_artifact_registry_repository" "runner" {
  project       = var.project_id
  location      = var.region
  repository_id = "utio"
  description   = "Utio device runner images"
  format        = "DOCKER"

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "7776000s" # 90 days
    }
  }
}

resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "utio-functions"
  description   = "Images Cloud Functions builds for Utio's functions"
  format        = "DOCKER"

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days
    }
  }
}

resource "google_artifact_registry_repository_iam_member" "function_builder" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = var.function_builder
}

output "runner_repository" {
  description = "Where the runner image goes: REGION-docker.pkg.dev/PROJECT/utio."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.runner.repository_id}"
}

output "functions_repository" {
  value = google_artifact_registry_repository.functions.id
}
