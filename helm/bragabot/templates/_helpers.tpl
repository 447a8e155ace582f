{{/* Names */}}
{{- define "bragabot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bragabot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "bragabot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels: call with (dict "root" $ "component" "web") */}}
{{- define "bragabot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bragabot.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{- define "bragabot.labels" -}}
{{ include "bragabot.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: bragabot
helm.sh/chart: {{ include "bragabot.chart" .root }}
{{- end -}}

{{- define "bragabot.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "bragabot.provisionerServiceAccount" -}}
{{- default (printf "%s-provisioner" (include "bragabot.fullname" .)) .Values.serviceAccount.provisionerName -}}
{{- end -}}

{{- define "bragabot.serviceAccount" -}}
{{- default (include "bragabot.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The Secret of secret settings every pod reads (and the provisioner hands its bots). */}}
{{- define "bragabot.envSecretName" -}}
{{- if .Values.secrets.create }}{{ include "bragabot.fullname" . }}{{ else }}{{ .Values.secrets.existingSecret }}{{ end -}}
{{- end -}}

{{/* Settings: what the ConfigMap and the Secrets hold (the migration hook renders its own copies). */}}
{{- define "bragabot.configData" -}}
{{- $fixed := dict
  "BRAGABOT_ENV" "production"
  "WEB_THREADS" (toString .Values.web.threads)
  "WEB_SERVE_STATIC" (ternary "1" "0" .Values.web.serveStatic)
  "DB_CONN_MAX_AGE" (toString .Values.database.connMaxAge)
  "DB_PREPARED_STATEMENTS" (ternary "1" "0" .Values.database.preparedStatements)
  "MIGRATION_PROCESSES" (toString .Values.migrations.processes)
  "HISTORY_ARCHIVE_DIR" "/var/lib/bragabot/archive"
  "PROVISIONER_IMAGE" (include "bragabot.image" .)
  "PROVISIONER_PLATFORM_SECRET" (include "bragabot.envSecretName" .)
  "PYTHONUNBUFFERED" "1" -}}
{{- $data := merge (deepCopy .Values.env) $fixed -}}
{{- range $key := keys $data | sortAlpha }}
{{ $key }}: {{ get $data $key | quote }}
{{- end }}
{{- end -}}

{{- define "bragabot.secretData" -}}
{{- range $key := keys .Values.secrets.values | sortAlpha }}
{{ $key }}: {{ get $.Values.secrets.values $key | toString | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "bragabot.connectionData" -}}
{{- with .Values.database.url }}
DATABASE_URL: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.redis.url }}
REDIS_URL: {{ . | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "bragabot.hasConnections" -}}
{{- if or .Values.database.url .Values.redis.url }}true{{ end -}}
{{- end -}}

{{/* Environment of a container: call with (dict "root" $ "suffix" "" ) or suffix "-migrations" */}}
{{- define "bragabot.envFrom" -}}
{{- $full := include "bragabot.fullname" .root -}}
- configMapRef:
    name: {{ $full }}{{ .suffix }}
- secretRef:
    name: {{ if .root.Values.secrets.create }}{{ $full }}{{ .suffix }}{{ else }}{{ .root.Values.secrets.existingSecret }}{{ end }}
{{- end -}}

{{- define "bragabot.env" -}}
{{- $full := include "bragabot.fullname" .root -}}
{{- with .root.Values.database.url }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $full }}-connections{{ $.suffix }}
      key: DATABASE_URL
{{- end }}
{{- with .root.Values.redis.url }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $full }}-connections{{ $.suffix }}
      key: REDIS_URL
{{- end }}
{{- end -}}

{{/* Every container: non-root, no privilege escalation, no capabilities, read-only root. */}}
{{- define "bragabot.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "bragabot.podScheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The pod template of a workload: call with (dict "root" $ "component" "web" "command" (list ...) "values" .Values.web "serviceAccount" name "provisioner" bool) */}}
{{- define "bragabot.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "bragabot.labels" . | nindent 4 }}
  annotations:
    # A changed setting restarts the pods that read it.
    checksum/config: {{ include "bragabot.configData" $root | sha256sum }}
    checksum/secret: {{ printf "%s%s" (include "bragabot.secretData" $root) (include "bragabot.connectionData" $root) | sha256sum }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ .serviceAccount }}
  automountServiceAccountToken: {{ .provisioner }}
  {{- include "bragabot.podScheduling" $root | trim | nindent 2 }}
  containers:
    - name: {{ .component }}
      image: {{ include "bragabot.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command:
        {{- toYaml .command | nindent 8 }}
      envFrom:
        {{- include "bragabot.envFrom" (dict "root" $root "suffix" "") | nindent 8 }}
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- with .extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with (include "bragabot.env" (dict "root" $root "suffix" "") | trim) }}{{ . | nindent 8 }}{{ end }}
      {{- with .ports }}
      ports:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .probes }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      resources:
        {{- toYaml .values.resources | nindent 8 }}
      securityContext:
        {{- include "bragabot.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if .archive }}
        - name: archive
          mountPath: /var/lib/bragabot/archive
        {{- end }}
  volumes:
    - name: tmp
      emptyDir: {}
    {{- if .archive }}
    - name: archive
      {{- if .values.archiveClaim }}
      persistentVolumeClaim:
        claimName: {{ .values.archiveClaim }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- end }}
{{- end -}}
