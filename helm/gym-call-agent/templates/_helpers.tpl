{{/* Names, labels and the environment entries shared by the workloads. */}}

{{- define "gca.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gca.fullname" -}}
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

{{/* Name of one component's resources: (dict "root" $ "component" "gateway") */}}
{{- define "gca.componentName" -}}
{{- printf "%s-%s" (include "gca.fullname" .root | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "gca.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "gca.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gym-call-agent
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway") */}}
{{- define "gca.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gca.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "gca.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gca.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gca.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "gca.natsServiceName" -}}
{{- include "gca.componentName" (dict "root" . "component" "nats") -}}
{{- end -}}

{{- define "gca.publicBaseUrl" -}}
{{- if .Values.publicBaseUrl -}}
{{- .Values.publicBaseUrl | trimSuffix "/" -}}
{{- else -}}
{{- printf "https://%s" .Values.ingress.host -}}
{{- end -}}
{{- end -}}

{{- define "gca.playbooksConfigMap" -}}
{{- default (include "gca.componentName" (dict "root" . "component" "playbooks")) .Values.playbooks.existingConfigMap -}}
{{- end -}}

{{/*
The env list of a container, from specs (a list of lists):
  (list "NAME" value)                               plain value, left out when empty
  (list "NAME" "secretKeyRef" secretName optional)  key NAME of a Secret
  (list "NAME" "fieldRef" "metadata.name")          a pod field
Called with (dict "specs" $specs "extra" $extraEnv).
*/}}
{{- define "gca.renderEnv" -}}
{{- $out := list -}}
{{- range $e := .specs -}}
{{- $name := index $e 0 -}}
{{- if eq (len $e) 2 -}}
{{- $v := index $e 1 -}}
{{- if kindIs "float64" $v -}}
{{- $v = int64 $v -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $v)) (ne (toString $v) "") -}}
{{- $out = append $out (dict "name" $name "value" (toString $v)) -}}
{{- end -}}
{{- else if eq (index $e 1) "secretKeyRef" -}}
{{- if not (index $e 2) -}}
{{- fail (printf "%s needs a Secret name (secrets.* in values)" $name) -}}
{{- end -}}
{{- $ref := dict "name" (index $e 2) "key" $name "optional" (index $e 3) -}}
{{- $out = append $out (dict "name" $name "valueFrom" (dict "secretKeyRef" $ref)) -}}
{{- else if eq (index $e 1) "fieldRef" -}}
{{- $out = append $out (dict "name" $name "valueFrom" (dict "fieldRef" (dict "fieldPath" (index $e 2)))) -}}
{{- end -}}
{{- end -}}
{{- range .extra -}}
{{- $out = append $out . -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Specs every service gets, as JSON: (dict "root" $) */}}
{{- define "gca.commonEnvSpecs" -}}
{{- $root := .root -}}
{{- $specs := list -}}
{{- if $root.Values.nats.enabled -}}
{{- $specs = append $specs (list "NATS_URL" (printf "nats://%s:%d" (include "gca.natsServiceName" $root) (int $root.Values.nats.clientPort))) -}}
{{- else if $root.Values.nats.external.urlSecret -}}
{{- $specs = append $specs (list "NATS_URL" "secretKeyRef" $root.Values.nats.external.urlSecret false) -}}
{{- else if $root.Values.nats.external.url -}}
{{- $specs = append $specs (list "NATS_URL" $root.Values.nats.external.url) -}}
{{- else -}}
{{- fail "nats.enabled=false needs nats.external.url or nats.external.urlSecret" -}}
{{- end -}}
{{- $specs = append $specs (list "RUST_LOG" $root.Values.logLevel) -}}
{{- $specs = concat $specs (include "gca.natsEnvSpecs" $root | fromJsonArray) -}}
{{- toJson $specs -}}
{{- end -}}

{{/* NATS credentials, TLS, replicas and ages every service reads (bus::NatsOptions), as JSON */}}
{{- define "gca.natsEnvSpecs" -}}
{{- $nats := .Values.nats -}}
{{- $specs := list -}}
{{- if $nats.auth.user -}}
{{- $specs = append $specs (list "NATS_USER" $nats.auth.user) -}}
{{- $specs = append $specs (list "NATS_PASSWORD" "secretKeyRef" .Values.secrets.nats false) -}}
{{- end -}}
{{- if $nats.auth.credsSecret -}}
{{- $specs = append $specs (list "NATS_CREDS_FILE" (printf "%s/nats.creds" $nats.auth.mountPath)) -}}
{{- end -}}
{{- if $nats.auth.nkeySecret -}}
{{- $specs = append $specs (list "NATS_NKEY_FILE" (printf "%s/nkey.seed" $nats.auth.mountPath)) -}}
{{- end -}}
{{- if $nats.tls.secret -}}
{{- $specs = append $specs (list "NATS_TLS_CA_FILE" (printf "%s/ca.crt" $nats.tls.mountPath)) -}}
{{- if $nats.tls.clientCertificate -}}
{{- $specs = append $specs (list "NATS_TLS_CERT_FILE" (printf "%s/tls.crt" $nats.tls.mountPath)) -}}
{{- $specs = append $specs (list "NATS_TLS_KEY_FILE" (printf "%s/tls.key" $nats.tls.mountPath)) -}}
{{- end -}}
{{- end -}}
{{- $specs = append $specs (list "NATS_TLS_REQUIRED" (toString (or $nats.tls.required (not (empty $nats.tls.secret))))) -}}
{{- $replicas := int $nats.storage.replicas -}}
{{- if eq $replicas 0 -}}
{{- $replicas = ternary (min 3 (int $nats.replicas)) 1 (and $nats.enabled (ge (int $nats.replicas) 3)) -}}
{{- end -}}
{{- $specs = append $specs (list "NATS_REPLICAS" $replicas) -}}
{{- range $name, $var := dict "calls" "NATS_MAX_AGE_CALLS" "convo" "NATS_MAX_AGE_CONVO" "results" "NATS_MAX_AGE_RESULTS" "dial" "NATS_MAX_AGE_DIAL" "callIdempotency" "NATS_MAX_AGE_CALL_IDEMPOTENCY" "dialNumbers" "NATS_MAX_AGE_DIAL_NUMBERS" -}}
{{- $specs = append $specs (list $var (toString (index $nats.storage.maxAge $name))) -}}
{{- end -}}
{{- toJson $specs -}}
{{- end -}}

{{/* Volume mounts for the NATS credential and TLS Secrets (empty when none is set) */}}
{{- define "gca.natsMounts" -}}
{{- $nats := .Values.nats -}}
{{- if or $nats.auth.credsSecret $nats.auth.nkeySecret }}
- name: nats-auth
  mountPath: {{ $nats.auth.mountPath }}
  readOnly: true
{{- end }}
{{- if $nats.tls.secret }}
- name: nats-tls
  mountPath: {{ $nats.tls.mountPath }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Volumes for the NATS credential and TLS Secrets (empty when none is set) */}}
{{- define "gca.natsVolumes" -}}
{{- $nats := .Values.nats -}}
{{- if or $nats.auth.credsSecret $nats.auth.nkeySecret }}
- name: nats-auth
  projected:
    sources:
      {{- if $nats.auth.credsSecret }}
      - secret:
          name: {{ $nats.auth.credsSecret }}
          items: [{key: nats.creds, path: nats.creds}]
      {{- end }}
      {{- if $nats.auth.nkeySecret }}
      - secret:
          name: {{ $nats.auth.nkeySecret }}
          items: [{key: nkey.seed, path: nkey.seed}]
      {{- end }}
{{- end }}
{{- if $nats.tls.secret }}
- name: nats-tls
  secret:
    secretName: {{ $nats.tls.secret }}
{{- end }}
{{- end -}}

{{/* terminationGracePeriodSeconds for a drain time: (dict "root" $ "drain" s "preStop" s) */}}
{{- define "gca.grace" -}}
{{- add (int .drain) (int (default 0 .preStop)) (int .root.Values.terminationGraceMarginSeconds) -}}
{{- end -}}

{{/* The http health probes: (dict "root" $ "port" "http") */}}
{{- define "gca.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: 2
  failureThreshold: {{ .root.Values.probes.startupFailureThreshold }}
livenessProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: {{ .root.Values.probes.periodSeconds }}
  timeoutSeconds: 3
  failureThreshold: {{ .root.Values.probes.livenessFailureThreshold }}
readinessProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  periodSeconds: {{ .root.Values.probes.periodSeconds }}
  timeoutSeconds: 3
  failureThreshold: {{ .root.Values.probes.readinessFailureThreshold }}
{{- end -}}

{{/* Spread one component's pods over nodes: (dict "root" $ "component" "gateway") */}}
{{- define "gca.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "gca.selectorLabels" . | nindent 8 }}
{{- end -}}

{{/* The playbooks volume (mounted read-only at playbooks.mountPath). */}}
{{- define "gca.playbooksVolume" -}}
- name: playbooks
  configMap:
    name: {{ include "gca.playbooksConfigMap" . }}
{{- end -}}

{{- define "gca.playbooksMount" -}}
- name: playbooks
  mountPath: {{ .Values.playbooks.mountPath }}
  readOnly: true
{{- end -}}

{{/* Pod-level settings shared by every service pod. */}}
{{- define "gca.podCommon" -}}
serviceAccountName: {{ include "gca.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* nodeSelector / tolerations / affinity of one component's values block. */}}
{{- define "gca.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
