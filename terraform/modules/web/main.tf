# The web app (web/dist, built by Cloud Build) in a Cloud Storage bucket behind Cloud
# CDN, as a backend bucket of the API's load balancer (modules/api_gateway routes /v1/*
# to the API, everything else here). Every answer carries the security headers the api
# process sets locally (functions/web_static.py): a Content-Security-Policy of our own
# origin (plus Identity Platform's endpoints, which the sign-in SDK calls), HSTS, no
# framing. App routes (/devices/...) that are no file answer index.html.
# Identity Platform: email and password sign-in, the app's domain authorised, and the
# browser's API key (public by design, restricted to Identity Platform and the domain).

variable "project_id" {
  type = string
}

variable "domain" {
  description = "The app's and the API's domain (the same origin); empty: no load balancer."
  type        = string
}

locals {
  bucket = "${var.project_id}-utio-web"
  csp = join("; ", [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self' https://identitytoolkit.googleapis.com https://securetoken.googleapis.com",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ])
}

resource "google_storage_bucket" "web" {
  project                     = var.project_id
  name                        = local.bucket
  location                    = "EU"
  uniform_bucket_level_access = true
  public_access_prevention    = "inherited"
  force_destroy               = true

  website {
    main_page_suffix = "index.html"
    not_found_page   = "index.html" # app routes: the app decides what a path shows
  }

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 3
    }
    action {
      type = "Delete"
    }
  }
}

# The built files are public: the same ones every browser downloads.
resource "google_storage_bucket_iam_member" "public" {
  bucket = google_storage_bucket.web.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

resource "google_compute_backend_bucket" "web" {
  project     = var.project_id
  name        = "utio-web"
  bucket_name = google_storage_bucket.web.name
  enable_cdn  = true

  cdn_policy {
    cache_mode        = "USE_ORIGIN_HEADERS" # index.html no-cache, assets/ immutable
    negative_caching  = false
    serve_while_stale = 86400
  }

  custom_response_headers = [
    "Content-Security-Policy: ${local.csp}",
    "Strict-Transport-Security: max-age=31536000; includeSubDomains",
    "X-Content-Type-Options: nosniff",
    "X-Frame-Options: DENY",
    "Referrer-Policy: strict-origin-when-cross-origin",
    "Permissions-Policy: camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy: same-origin",
  ]
}

resource "google_identity_platform_config" "this" {
  project                    = var.project_id
  autodelete_anonymous_users = true
  authorized_domains         = compact(["localhost", var.domain])

  sign_in {
    allow_duplicate_emails = false

    email {
      enabled           = true
      password_required = true
    }
  }
}

resource "google_apikeys_key" "browser" {
  project      = var.project_id
  name         = "utio-web-sign-in"
  display_name = "Utio web app sign-in (public, browser)"

  restrictions {
    api_targets {
      service = "identitytoolkit.googleapis.com"
    }
    api_targets {
      service = "securetoken.googleapis.com"
    }
    dynamic "browser_key_restrictions" {
      for_each = var.domain != "" ? [1] : []
      content {
        allowed_referrers = ["https://${var.domain}/*"]
      }
    }
  }
}

output "bucket" {
  value = google_storage_bucket.web.name
}

output "backend_bucket" {
  value = google_compute_backend_bucket.web.id
}

output "api_key" {
  description = "The browser's Identity Platform API key (public by design)."
  value       = google_apikeys_key.browser.key_string
  sensitive   = true
}
