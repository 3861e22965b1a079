{{/*
The chart name, overridable with nameOverride.
*/}}
{{- define "nordkapp42.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: the release name, suffixed with the
chart name unless it already contains it. Truncated to 63 characters, the
limit of DNS labels.
*/}}
{{- define "nordkapp42.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The chart label: name and version.
*/}}
{{- define "nordkapp42.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels of every resource.
*/}}
{{- define "nordkapp42.labels" -}}
helm.sh/chart: {{ include "nordkapp42.chart" . }}
{{ include "nordkapp42.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The labels that select the release's pods; immutable in a Deployment, so
they never include the version.
*/}}
{{- define "nordkapp42.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nordkapp42.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "nordkapp42.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nordkapp42.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret holding the secret settings: the chart's or an existing one.
*/}}
{{- define "nordkapp42.secretName" -}}
{{- default (include "nordkapp42.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
"true" when a shared store and broker are configured, so that several pods
serve the same users: PostgreSQL plus Redis (a URL or a cluster). Without
them each pod has its own SQLite database and in-process fan-out.
*/}}
{{- define "nordkapp42.scaleOut" -}}
{{- $s := .Values.secrets }}
{{- $redis := or $s.redisUrl .Values.config.redisCluster }}
{{- if or (and $s.existingSecret $s.existingSecretHasStoreUrls) (and $s.databaseUrl $redis) }}true{{ end }}
{{- end }}

{{/*
"true" when the HorizontalPodAutoscaler is rendered: asked for and possible.
*/}}
{{- define "nordkapp42.autoscaling" -}}
{{- if and .Values.autoscaling.enabled (include "nordkapp42.scaleOut" .) }}true{{ end }}
{{- end }}

{{/*
Fails the render on settings that would deploy a broken release.
*/}}
{{- define "nordkapp42.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "nordkapp42.scaleOut" .)) }}
{{- fail "replicaCount > 1 needs secrets.databaseUrl and secrets.redisUrl (or config.redisCluster, or secrets.existingSecret with secrets.existingSecretHasStoreUrls=true): with the embedded SQLite store every pod would have its own database" }}
{{- end }}
{{- $s := .Values.secrets }}
{{- if and $s.existingSecret (or $s.jwtSecret $s.internalToken $s.databaseUrl $s.redisUrl) }}
{{- fail "set either secrets.existingSecret or the secret values (jwtSecret, internalToken, databaseUrl, redisUrl), not both: an existing Secret holds them under its own keys" }}
{{- end }}
{{- $timeout := toString .Values.config.shutdownTimeout }}
{{- if regexMatch "^[0-9]+s$" $timeout }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int (trimSuffix "s" $timeout)) }}
{{- fail "terminationGracePeriodSeconds must exceed config.shutdownTimeout, or Kubernetes kills pods before they finish draining" }}
{{- end }}
{{- end }}
{{- if and .Values.secrets.redisUrl .Values.config.redisCluster }}
{{- fail "set either secrets.redisUrl or config.redisCluster, not both" }}
{{- end }}
{{- if and (include "nordkapp42.autoscaling" .) (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- end }}
