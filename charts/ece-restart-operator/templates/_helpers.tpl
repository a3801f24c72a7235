{{/*
name is the chart name, or nameOverride.
*/}}
{{- define "ece-restart-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
fullname is the prefix of every object name: fullnameOverride, or "<release>-<chart>" (just "<release>" when the
release name already contains the chart name). Kept to 53 characters so that suffixes such as "-metrics" and
"-ledger" still fit in 63.
*/}}
{{- define "ece-restart-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 53 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
chart is "<chart>-<version>" for the helm.sh/chart label.
*/}}
{{- define "ece-restart-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
selectorLabels identify the operator pod; they never change across upgrades (Deployment selectors are immutable).
*/}}
{{- define "ece-restart-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ece-restart-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
labels go on every object the chart renders (except the CRD, which is rendered verbatim from files/crd.yaml).
*/}}
{{- define "ece-restart-operator.labels" -}}
helm.sh/chart: {{ include "ece-restart-operator.chart" . }}
{{ include "ece-restart-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: ece-restart-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
serviceAccountName is the ServiceAccount the operator pod runs as (validate refuses serviceAccount.create=false
without a name, so it is never the namespace's "default" ServiceAccount).
*/}}
{{- define "ece-restart-operator.serviceAccountName" -}}
{{- default (include "ece-restart-operator.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/*
image is "repository@digest" when a digest is set, else "repository:tag" with the tag defaulting to appVersion.
*/}}
{{- define "ece-restart-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
watchNamespaces is the JSON list of namespaces the operator watches when not cluster-wide: watchNamespaces, or the
release namespace. Use with `include ... | fromJsonArray`.
*/}}
{{- define "ece-restart-operator.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- .Values.watchNamespaces | toJson }}
{{- else }}
{{- list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{/*
caBundleDir is where deployment.yaml mounts the CA bundle (as the file ca.crt).
*/}}
{{- define "ece-restart-operator.caBundleDir" -}}
/etc/ece-restart-operator/ca
{{- end }}

{{/*
validate fails the rendering on value combinations the schema cannot express, with a message naming the values.
It is included by deployment.yaml, so every install, upgrade and `helm template` runs it.
*/}}
{{- define "ece-restart-operator.validate" -}}
{{- if eq .Values.image.tag "latest" }}
{{- fail "image.tag=latest is refused: pin a release version (or leave it empty for the chart's appVersion) or set image.digest" }}
{{- end }}
{{- if and .Values.clusterWide .Values.watchNamespaces }}
{{- fail "clusterWide=true and watchNamespaces are mutually exclusive: empty watchNamespaces to watch all namespaces, or set clusterWide=false" }}
{{- end }}
{{- if and .Values.ece.url (not .Values.ece.auth.existingSecret) }}
{{- fail "ece.url is set but ece.auth.existingSecret is empty: name the Secret holding the ECE credentials" }}
{{- end }}
{{- if and .Values.ece.auth.existingSecret (not .Values.ece.url) }}
{{- fail "ece.auth.existingSecret is set but ece.url is empty: set the ECE API URL of the default connection" }}
{{- end }}
{{- if and .Values.ece.caBundle.secret.name .Values.ece.caBundle.configMap.name }}
{{- fail "ece.caBundle.secret.name and ece.caBundle.configMap.name are mutually exclusive: choose one source for the CA bundle" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled=true requires metrics.enabled=true" }}
{{- end }}
{{- if .Values.networkPolicy.enabled }}
{{- if not .Values.networkPolicy.apiServerCIDRs }}
{{- fail "networkPolicy.enabled=true requires networkPolicy.apiServerCIDRs (the Kubernetes API server endpoint addresses)" }}
{{- end }}
{{- if not .Values.networkPolicy.eceCIDRs }}
{{- fail "networkPolicy.enabled=true requires networkPolicy.eceCIDRs (the ECE API addresses)" }}
{{- end }}
{{- end }}
{{- if and (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) }}
{{- fail "serviceAccount.create=false requires serviceAccount.name: the operator must not run as the namespace's default ServiceAccount" }}
{{- end }}
{{- end }}

{{/*
watchRules are the rules the operator needs in every namespace it watches (see rbac.yaml for the reasons).
*/}}
{{- define "ece-restart-operator.watchRules" -}}
- apiGroups: ["eceops.io"]
  resources: ["resourcerestarts"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: ["eceops.io"]
  resources: ["resourcerestarts/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.rbac.connectionSecrets.enabled }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
  {{- with .Values.rbac.connectionSecrets.names }}
  resourceNames: {{ toJson . }}
  {{- end }}
{{- end }}
{{- end }}
