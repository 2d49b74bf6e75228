{{/* Labels every Gatehouse object carries. */}}
{{- define "gatehouse.labels" -}}
app.kubernetes.io/name: gatehouse
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Labels that select the operator's pods. */}}
{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: gatehouse
app.kubernetes.io/component: operator
{{- end }}

{{/* The image of the operator and of the sidecar. */}}
{{- define "gatehouse.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* The URL sidecars stream their config from: the operator's Service. */}}
{{- define "gatehouse.operatorUrl" -}}
https://gatehouse-operator.{{ .Release.Namespace }}.svc
{{- end }}

{{/* The UID Gatehouse containers run as; empty: the platform's choice (see runAsUser in values.yaml). */}}
{{- define "gatehouse.runAsUser" -}}
{{- $uid := .Values.runAsUser -}}
{{- if kindIs "invalid" $uid -}}
{{- else if eq (toString $uid) "auto" -}}
{{- if not (.Capabilities.APIVersions.Has "security.openshift.io/v1") -}}65532{{- end -}}
{{- else -}}
{{ int64 $uid }}
{{- end -}}
{{- end }}

{{/* The restricted security context of Gatehouse containers. */}}
{{- define "gatehouse.containerSecurityContext" -}}
runAsNonRoot: true
{{- with include "gatehouse.runAsUser" . }}
runAsUser: {{ . }}
runAsGroup: {{ . }}
{{- end }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}
