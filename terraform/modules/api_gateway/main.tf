# The public API and, on the same origin, the web app: API Gateway serves the API's own OpenAPI document
# (terraform/generated/openapi.gateway.json, written by `python -m infra.generate` from
# api.openapi()) and calls the private `api` function as the gateway account. With a
# custom domain, a global external Application Load Balancer fronts the gateway through
# a serverless NEG, with a Google-managed TLS certificate, HTTP→HTTPS redirect, a
# modern TLS policy and a Cloud Armor per-IP rate limit.

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "document" {
  description = "Path of the gateway's OpenAPI document."
  type        = string
}

variable "backend_url" {
  description = "URL of the api function."
  type        = string
}

variable "gateway_service_account" {
  type = string
}

variable "domain" {
  description = "Custom domain; empty for none."
  type        = string
}

variable "rate_limit_per_minute" {
  type = number
}

variable "web_backend" {
  description = "The web app's backend bucket (modules/web): what every path but /v1/* answers."
  type        = string
}

locals {
  document = replace(file(var.document), "@UTIO_API_BACKEND_URL@", var.backend_url)
  with_lb  = var.domain != "" ? 1 : 0
}

resource "google_api_gateway_api" "api" {
  provider = google-beta
  project  = var.project_id
  api_id   = "utio-api"
}

resource "google_api_gateway_api_config" "api" {
  provider             = google-beta
  project              = var.project_id
  api                  = google_api_gateway_api.api.api_id
  api_config_id_prefix = "utio-"

  openapi_documents {
    document {
      path     = "openapi.json"
      contents = base64encode(local.document)
    }
  }

  gateway_config {
    backend_config {
      google_service_account = var.gateway_service_account
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_api_gateway_gateway" "api" {
  provider   = google-beta
  project    = var.project_id
  region     = var.region
  gateway_id = "utio"
  api_config = google_api_gateway_api_config.api.id
}

resource "google_project_service" "managed_service" {
  project            = var.project_id
  service            = google_api_gateway_api.api.managed_service
  disable_on_destroy = false
}

# --- custom domain -------------------------------------------------------------------

resource "google_compute_region_network_endpoint_group" "gateway" {
  count                 = local.with_lb
  provider              = google-beta
  project               = var.project_id
  name                  = "utio-api-gateway"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  serverless_deployment {
    platform = "apigateway.googleapis.com"
    resource = google_api_gateway_gateway.api.gateway_id
  }
}

resource "google_compute_security_policy" "api" {
  count   = local.with_lb
  project = var.project_id
  name    = "utio-api"

  rule {
    action   = "throttle"
    priority = 1000
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.rate_limit_per_minute
        interval_sec = 60
      }
    }
    description = "Per-IP rate limit"
  }

  rule {
    action   = "deny(403)"
    priority = 2000
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
    description = "Log4j and other known CVE probes"
  }

  rule {
    action   = "allow"
    priority = 2147483647
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    description = "Everything else"
  }
}

resource "google_compute_backend_service" "gateway" {
  count                 = local.with_lb
  project               = var.project_id
  name                  = "utio-api"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  security_policy       = google_compute_security_policy.api[0].id

  backend {
    group = google_compute_region_network_endpoint_group.gateway[0].id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

# One origin for the app and the API: /v1/* goes to the gateway, everything else to the
# web app's files on Cloud CDN.
resource "google_compute_url_map" "api" {
  count           = local.with_lb
  project         = var.project_id
  name            = "utio-api"
  default_service = var.web_backend

  host_rule {
    hosts        = [var.domain]
    path_matcher = "app"
  }

  path_matcher {
    name            = "app"
    default_service = var.web_backend

    path_rule {
      paths   = ["/v1", "/v1/*"]
      service = google_compute_backend_service.gateway[0].id
    }
  }
}

resource "google_compute_managed_ssl_certificate" "api" {
  count   = local.with_lb
  project = var.project_id
  name    = "utio-api-${substr(sha256(var.domain), 0, 8)}"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "modern" {
  count           = local.with_lb
  project         = var.project_id
  name            = "utio-modern-tls"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "api" {
  count            = local.with_lb
  project          = var.project_id
  name             = "utio-api"
  url_map          = google_compute_url_map.api[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.api[0].id]
  ssl_policy       = google_compute_ssl_policy.modern[0].id
}

resource "google_compute_global_address" "api" {
  count   = local.with_lb
  project = var.project_id
  name    = "utio-api"
}

resource "google_compute_global_forwarding_rule" "https" {
  count                 = local.with_lb
  project               = var.project_id
  name                  = "utio-api-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api[0].address
  port_range            = "443"
  target                = google_compute_target_https_proxy.api[0].id
}

resource "google_compute_url_map" "redirect" {
  count   = local.with_lb
  project = var.project_id
  name    = "utio-api-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  count   = local.with_lb
  project = var.project_id
  name    = "utio-api-redirect"
  url_map = google_compute_url_map.redirect[0].id
}

resource "google_compute_global_forwarding_rule" "http" {
  count                 = local.with_lb
  project               = var.project_id
  name                  = "utio-api-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api[0].address
  port_range            = "80"
  target                = google_compute_target_http_proxy.redirect[0].id
}

output "gateway_host" {
  value = google_api_gateway_gateway.api.default_hostname
}

output "url" {
  description = "Base URL of the public API."
  value       = var.domain != "" ? "https://${var.domain}" : "https://${google_api_gateway_gateway.api.default_hostname}"
}

output "ip_address" {
  description = "Point the domain's A record here (empty without a domain)."
  value       = var.domain != "" ? google_compute_global_address.api[0].address : ""
}
