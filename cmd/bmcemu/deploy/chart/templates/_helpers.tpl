{{/*
The StatefulSet's name, and the prefix of every object: the release name, so
pod N is <release>-N (its hostname, from which --shard auto/<replicas> takes
N) and member Services are <release>-<member>.
*/}}
{{- define "bmcemu.fullname" -}}
{{- $name := default .Release.Name .Values.fullnameOverride -}}
{{- if gt (len $name) 52 -}}
{{- fail (printf "name %q is longer than 52 characters: a StatefulSet's pods need room for their revision label (set fullnameOverride)" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "bmcemu.selectorLabels" -}}
app.kubernetes.io/name: bmcemu
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{- define "bmcemu.labels" -}}
{{ include "bmcemu.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
{{- end -}}

{{- define "bmcemu.secretName" -}}
{{- default (printf "%s-credentials" (include "bmcemu.fullname" .)) .Values.credentials.existingSecret -}}
{{- end -}}

{{/*
The fleet's member names, in fleet order, as a JSON list.
*/}}
{{- define "bmcemu.memberNames" -}}
{{- $names := list -}}
{{- if .Values.fleet.file -}}
{{- $m := int .Values.fleet.count -}}
{{- if lt $m 1 -}}
{{- fail "fleet.file needs fleet.count: the number of members the file defines (the chart places and names Services by it)" -}}
{{- end -}}
{{- if .Values.fleet.names -}}
{{- if ne (len .Values.fleet.names) $m -}}
{{- fail (printf "fleet.names has %d names but fleet.count is %d" (len .Values.fleet.names) $m) -}}
{{- end -}}
{{- $names = .Values.fleet.names -}}
{{- else -}}
{{- range $i := until $m -}}
{{- $names = append $names (printf "member-%03d" (add1 $i)) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- range $i := until (int .Values.fleet.size) -}}
{{- $names = append $names (printf "bmc-%03d" (add1 $i)) -}}
{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
Every member with its pod and ports, as a JSON list of {name, index, shard}.
The split is fleet.Shard's: with M members on N shards, shard s runs members
s*M/N <= i < (s+1)*M/N (integer division), contiguous ranges whose lengths
differ by at most one. A member's ports in its pod count from the fleet's
first member, not the shard's: bmcemu places the whole fleet (member i on
ports.ipmi+i and ports.https+i) before it keeps its shard's range.
*/}}
{{- define "bmcemu.members" -}}
{{- $names := include "bmcemu.memberNames" . | fromJsonArray -}}
{{- $m := len $names -}}
{{- $n := int .Values.replicas -}}
{{- if lt $m 1 -}}
{{- fail "the fleet has no members: set fleet.size (or fleet.file and fleet.count)" -}}
{{- end -}}
{{- if lt $n 1 -}}
{{- fail "replicas must be at least 1" -}}
{{- end -}}
{{- if gt $n $m -}}
{{- fail (printf "replicas (%d) is more than the fleet's %d members: a shard would be empty" $n $m) -}}
{{- end -}}
{{- $last := sub $m 1 -}}
{{- range $what, $base := dict "ports.ipmi" .Values.ports.ipmi "ports.https" .Values.ports.https -}}
{{- if gt (add (int $base) $last) 65535 -}}
{{- fail (printf "%s: %d members would need ports %d-%d, past 65535" $what $m (int $base) (add (int $base) $last)) -}}
{{- end -}}
{{- end -}}
{{- $c := int .Values.ports.control -}}
{{- if and (ge $c (int .Values.ports.https)) (le $c (add (int .Values.ports.https) $last)) -}}
{{- fail (printf "ports.control %d falls in the members' HTTPS ports %d-%d" $c (int .Values.ports.https) (add (int .Values.ports.https) $last)) -}}
{{- end -}}
{{- $out := list -}}
{{- range $s := until $n -}}
{{- $lo := div (mul $s $m) $n -}}
{{- $hi := div (mul (add1 $s) $m) $n -}}
{{- range $i := untilStep (int $lo) (int $hi) 1 -}}
{{- $out = append $out (dict "name" (index $names $i) "index" $i "shard" $s) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}
