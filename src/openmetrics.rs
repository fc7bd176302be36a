// SPDX-License-Identifier: GPL-2.0
//! `--openmetrics`: a report as OpenMetrics text (which Prometheus' text
//! parser, node_exporter's textfile collector among them, reads too), named
//! by the scx_stats metadata the server sent, so the names are the ones a
//! client of the socket can work out for itself (metrics.rs says how).
//!
//! Every sample is a gauge: the figures cover one interval. A struct's
//! numeric fields are samples named `_om_prefix` + the field's name; a list
//! of structs gives one series per element, labelled by the element's
//! `_om_label` fields; a map gives one series per key; text is never a
//! sample. scx_stats' own scxstats_to_openmetrics.py only knows maps of
//! structs, and stops at a map of numbers such as `events_per_s`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{anyhow, Result};
use scx_stats::prelude::*;
use serde_json::Value;

/// One metric family: its HELP text and its series, in the order met, one
/// sample each (a series met twice keeps its first value).
struct Family {
    help: String,
    series: Vec<(Vec<(String, String)>, String)>,
}

#[derive(Default)]
struct Families {
    order: Vec<String>,
    by_name: BTreeMap<String, Family>,
}

impl Families {
    fn add(&mut self, name: String, help: &str, labels: Vec<(String, String)>, value: &Value) {
        let Some(value) = number(value) else { return };
        let family = self.by_name.entry(name.clone()).or_insert_with(|| {
            self.order.push(name);
            Family { help: help.to_string(), series: Vec::new() }
        });
        if !family.series.iter().any(|(l, _)| *l == labels) {
            family.series.push((labels, value));
        }
    }
}

/// A JSON number as the text format writes it; None for anything else (a
/// NaN figure reaches JSON as null).
fn number(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) if n.is_f64() => n.as_f64().filter(|f| f.is_finite()).map(|f| f.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_number(kind: &StatsKind) -> bool {
    matches!(kind, StatsKind::I64 | StatsKind::U64 | StatsKind::Float)
}

fn user<'a>(attrs: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    attrs.get(key).map(String::as_str)
}

/// The label a field stands for: `_om_label = "NAME"`, or the field's own
/// name when the attribute has no value (scx_stats then records "true").
fn label_name(field: &str, attrs: &BTreeMap<String, String>) -> Option<String> {
    user(attrs, "_om_label").map(|v| if v == "true" { field.to_string() } else { v.to_string() })
}

/// The labels an element of a list or map carries: its `_om_label` fields.
fn element_labels(meta: &StatsMeta, obj: &Value) -> Vec<(String, String)> {
    meta.fields
        .iter()
        .filter_map(|(name, f)| {
            let label = label_name(name, &f.attrs.user)?;
            let value = match obj.get(name)? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((label, value))
        })
        .collect()
}

struct Walker<'a> {
    metas: &'a BTreeMap<String, StatsMeta>,
    out: Families,
}

impl<'a> Walker<'a> {
    fn meta(&self, name: &str) -> Result<&'a StatsMeta> {
        self.metas.get(name).ok_or_else(|| anyhow!("the server sent no metadata for {name}"))
    }

    fn structure(&mut self, name: &str, obj: &Value, labels: &[(String, String)]) -> Result<()> {
        let meta = self.meta(name)?;
        let prefix = user(&meta.attrs.user, "_om_prefix").unwrap_or("").to_string();
        for (fname, field) in &meta.fields {
            let attrs = &field.attrs.user;
            let Some(value) = obj.get(fname) else { continue };
            if attrs.contains_key("_om_skip") {
                continue;
            }
            let (name, help) = (format!("{prefix}{fname}"), field.attrs.desc.as_deref().unwrap_or(""));
            let with = |extra: Vec<(String, String)>| labels.iter().cloned().chain(extra).collect::<Vec<_>>();
            match &field.data {
                // A datum that is a label is no sample of its own.
                StatsData::Datum(kind) if is_number(kind) && !attrs.contains_key("_om_label") => {
                    self.out.add(name, help, labels.to_vec(), value)
                }
                StatsData::Datum(StatsKind::Struct(inner)) => self.structure(inner, value, labels)?,
                StatsData::Dict { datum, .. } if is_number(datum) => {
                    let label = label_name(fname, attrs).unwrap_or_else(|| "key".into());
                    for (k, v) in value.as_object().into_iter().flatten() {
                        self.out.add(name.clone(), help, with(vec![(label.clone(), k.clone())]), v);
                    }
                }
                StatsData::Dict { datum: StatsKind::Struct(inner), .. } => {
                    let label = user(&self.meta(inner)?.attrs.user, "_om_label").unwrap_or("key").to_string();
                    for (k, v) in value.as_object().into_iter().flatten() {
                        let mut l = vec![(label.clone(), k.clone())];
                        l.extend(element_labels(self.meta(inner)?, v).into_iter().filter(|(n, _)| *n != label));
                        self.structure(inner, v, &with(l))?;
                    }
                }
                StatsData::Array(StatsKind::Struct(inner)) => {
                    for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                        let mut l = element_labels(self.meta(inner)?, v);
                        if l.is_empty() {
                            l.push(("index".into(), i.to_string()));
                        }
                        self.structure(inner, v, &with(l))?;
                    }
                }
                StatsData::Array(kind) if is_number(kind) => {
                    let label = label_name(fname, attrs).unwrap_or_else(|| "index".into());
                    for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                        self.out.add(name.clone(), help, with(vec![(label.clone(), i.to_string())]), v);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// HELP text: backslash and newline escaped; a double quote, which the two
/// formats escape differently, becomes a single one.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n").replace('"', "'")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `report` (a "stats" answer) as OpenMetrics text, named by `metas` (the
/// "stats_meta" answer), ending in "# EOF".
pub fn render(metas: &BTreeMap<String, StatsMeta>, report: &Value) -> Result<String> {
    let top = metas
        .values()
        .find(|m| m.attrs.top.is_some())
        .ok_or_else(|| anyhow!("the server's metadata has no top-level report"))?;
    let mut w = Walker { metas, out: Families::default() };
    w.structure(&top.name, report, &[])?;
    let mut text = String::new();
    for name in &w.out.order {
        let family = &w.out.by_name[name];
        let _ = writeln!(text, "# HELP {name} {}", escape_help(&family.help));
        let _ = writeln!(text, "# TYPE {name} gauge");
        for (labels, value) in &family.series {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let labels = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
            let _ = writeln!(text, "{name}{labels} {value}");
        }
    }
    text.push_str("# EOF\n");
    Ok(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::{self, CallbackMetrics, CpuMetrics, GroupMetrics, Metrics, TaskMetrics};
    use std::collections::BTreeSet;

    /// One parsed sample: family, labels (unescaped), value.
    pub(crate) type Sample = (String, Vec<(String, String)>, f64);

    fn metric_name_ok(s: &str) -> bool {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
    }

    fn label_name_ok(s: &str) -> bool {
        let mut c = s.chars();
        !s.starts_with("__")
            && c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    }

    /// `{a="x",b="y"}` after a metric name: the labels, unescaped, and the
    /// rest of the line; Err names what is wrong.
    fn parse_labels(s: &str) -> Result<(Vec<(String, String)>, &str), String> {
        let Some(mut rest) = s.strip_prefix('{') else { return Ok((Vec::new(), s)) };
        let mut labels = Vec::new();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                return Ok((labels, r));
            }
            let eq = rest.find('=').ok_or("a label without =")?;
            let name = &rest[..eq];
            if !label_name_ok(name) {
                return Err(format!("bad label name {name:?}"));
            }
            let mut chars = rest[eq + 1..].strip_prefix('"').ok_or("an unquoted label value")?.char_indices();
            let mut value = String::new();
            let end = loop {
                match chars.next().ok_or("an unterminated label value")? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or("a lone backslash")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => return Err(format!("bad escape \\{c}")),
                    },
                    (_, '\n') => return Err("a raw newline in a label value".into()),
                    (_, c) => value.push(c),
                }
            };
            if labels.iter().any(|(n, _)| *n == name) {
                return Err(format!("label {name} twice"));
            }
            labels.push((name.to_string(), value));
            rest = &rest[eq + 1..][1 + end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }

    /// A strict reader of the text `render` writes (gauges only): every
    /// family has one HELP and one TYPE before its samples, which are
    /// contiguous; names and labels are valid; each series has one sample;
    /// the last line is "# EOF". Returns the samples.
    pub(crate) fn parse(text: &str) -> Result<Vec<Sample>, String> {
        let lines: Vec<&str> = text.strip_suffix('\n').ok_or("no final newline")?.split('\n').collect();
        if lines.last() != Some(&"# EOF") {
            return Err("the last line is not # EOF".into());
        }
        let (mut samples, mut done, mut series) = (Vec::new(), BTreeSet::new(), BTreeSet::new());
        let (mut family, mut help, mut typed) = (String::new(), false, false);
        for (n, line) in lines[..lines.len() - 1].iter().enumerate() {
            let bad = |why: String| format!("line {}: {why}: {line:?}", n + 1);
            if let Some(rest) = line.strip_prefix("# ") {
                let (kind, rest) = rest.split_once(' ').ok_or_else(|| bad("a bare comment".into()))?;
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                if name != family {
                    if !done.insert(name.to_string()) {
                        return Err(bad(format!("family {name} seen before")));
                    }
                    (family, help, typed) = (name.to_string(), false, false);
                }
                if !metric_name_ok(name) {
                    return Err(bad("bad metric name".into()));
                }
                match kind {
                    "HELP" if !help => {
                        let mut c = text.chars();
                        while let Some(ch) = c.next() {
                            match ch {
                                '"' => return Err(bad("a raw double quote in HELP".into())),
                                '\\' if !matches!(c.next(), Some('\\' | 'n')) => return Err(bad("bad escape".into())),
                                _ => {}
                            }
                        }
                        help = true;
                    }
                    "TYPE" if !typed && text == "gauge" => typed = true,
                    _ => return Err(bad(format!("unexpected {kind}"))),
                }
                continue;
            }
            let end = line.find(['{', ' ']).ok_or_else(|| bad("no value".into()))?;
            let name = &line[..end];
            if name != family || !help || !typed {
                return Err(bad(format!("a sample of {name} outside its family's HELP and TYPE")));
            }
            let (labels, rest) = parse_labels(&line[end..]).map_err(bad)?;
            let value = rest.strip_prefix(' ').ok_or_else(|| bad("no space before the value".into()))?;
            let value: f64 = value.parse().map_err(|_| bad("the value is not a number".into()))?;
            let mut key = labels.clone();
            key.sort();
            if !series.insert((name.to_string(), key)) {
                return Err(bad("a second sample of one series".into()));
            }
            samples.push((name.to_string(), labels, value));
        }
        Ok(samples)
    }

    pub(crate) fn metas() -> BTreeMap<String, StatsMeta> {
        stats::metas().into_iter().map(|m| (m.name.clone(), m)).collect()
    }

    fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        samples.iter().find(|(n, l, _)| n == name && *l == want).map(|s| s.2)
    }

    fn report() -> Metrics {
        Metrics {
            interval_s: 1.0,
            nr_cpus: 2,
            nr_running: 3,
            events_per_s: [("enqueue".to_string(), 10.5), ("preempt".to_string(), 2.0)].into(),
            avg_slice_us: 2250.0,
            util_total: 1500,
            fair_tasks: 2,
            fair_jain: f64::NAN,
            fair_max_lag_ms: 0.25,
            cpus: vec![
                CpuMetrics { cpu: 0, nr_running: 2, util_avg: 1000, slice_us: 3000.0, ..Default::default() },
                CpuMetrics { cpu: 3, nr_running: 1, util_avg: 500, ..Default::default() },
            ],
            top: vec![
                TaskMetrics { pid: 42, comm: "a\"b\\c\nd".into(), weight: 1024, vlag_ms: -1.5, ..Default::default() },
                TaskMetrics { pid: 43, comm: "hog".into(), weight: 335, cpu: 3, ..Default::default() },
            ],
            groups: vec![GroupMetrics { path: "/a/b".into(), cpu_weight: 200, share: 0.75, cpus_used: 1.5, ..Default::default() }],
            tunables: [("sched_latency_us".to_string(), 6000)].into(),
            bpf_stats: 1,
            bpf_callbacks: vec![CallbackMetrics {
                name: "enqueue".into(),
                calls: 7,
                mean_ns: 850.0,
                ns_per_switch: 120.0,
                verified_insns: 31_000,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_report_renders_as_valid_text_with_labelled_series() {
        let text = render(&metas(), &serde_json::to_value(report()).unwrap()).unwrap();
        let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let v = |name: &str, labels: &[(&str, &str)]| value_of(&samples, name, labels);
        assert_eq!(v("fairrs_nr_running", &[]), Some(3.0));
        assert_eq!(v("fairrs_events_per_s", &[("event", "enqueue")]), Some(10.5));
        assert_eq!(v("fairrs_tunables", &[("tunable", "sched_latency_us")]), Some(6000.0));
        assert_eq!(v("fairrs_bpf_callback_mean_ns", &[("callback", "enqueue")]), Some(850.0));
        assert_eq!(v("fairrs_bpf_callback_verified_insns", &[("callback", "enqueue")]), Some(31000.0));
        assert_eq!(v("fairrs_cpu_util_avg", &[("cpu", "3")]), Some(500.0));
        assert_eq!(v("fairrs_cpu_slice_us", &[("cpu", "0")]), Some(3000.0));
        // Labels in field order (comm before pid); quotes, backslashes and
        // newlines in a task's name come back intact.
        assert_eq!(v("fairrs_task_weight", &[("comm", "a\"b\\c\nd"), ("pid", "42")]), Some(1024.0));
        assert_eq!(v("fairrs_task_vlag_ms", &[("comm", "a\"b\\c\nd"), ("pid", "42")]), Some(-1.5));
        assert_eq!(v("fairrs_task_cpu", &[("comm", "hog"), ("pid", "43")]), Some(3.0));
        assert_eq!(v("fairrs_group_share", &[("cgroup", "/a/b")]), Some(0.75));
        assert_eq!(v("fairrs_group_cpus_used", &[("cgroup", "/a/b")]), Some(1.5));
        // A label is no sample, text is none, and a NaN (null in JSON) is left out.
        let names: BTreeSet<&str> = samples.iter().map(|s| s.0.as_str()).collect();
        for absent in ["fairrs_cpu_cpu", "fairrs_task_pid", "fairrs_task_comm", "fairrs_group_path", "fairrs_fair_jain"] {
            assert!(!names.contains(absent), "{absent} is a sample:\n{text}");
        }
        assert!(text.contains("# HELP fairrs_cpu_util_avg PELT util_avg of the queue"), "{text}");
        // Every sample is under the scheduler's prefix.
        assert!(names.iter().all(|n| n.starts_with(scx_fairrs::metrics::OM_PREFIX)), "{names:?}");
    }

    #[test]
    fn only_a_limited_group_has_cpu_max_series() {
        let mut m = report();
        m.cpu_max_enforced = 1;
        m.groups.push(GroupMetrics {
            path: "/lim".into(),
            cpu_max_quota_us: 50_000,
            cpu_max_period_us: 100_000,
            nr_periods: 12,
            throttled: 1,
            cpus_used: 0.5,
            ..Default::default()
        });
        let text = render(&metas(), &serde_json::to_value(m).unwrap()).unwrap();
        let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let v = |name: &str, cgroup: &str| value_of(&samples, name, &[("cgroup", cgroup)]);
        assert_eq!(value_of(&samples, "fairrs_cpu_max_enforced", &[]), Some(1.0), "{text}");
        assert_eq!(v("fairrs_group_cpu_max_quota_us", "/lim"), Some(50_000.0), "{text}");
        assert_eq!(v("fairrs_group_nr_periods", "/lim"), Some(12.0), "{text}");
        assert_eq!(v("fairrs_group_nr_throttled", "/lim"), Some(0.0), "{text}");
        assert_eq!(v("fairrs_group_throttled", "/lim"), Some(1.0), "{text}");
        assert_eq!(v("fairrs_group_share", "/a/b"), Some(0.75), "{text}");
        // What a group used is a series with or without a limit.
        assert_eq!(v("fairrs_group_cpus_used", "/lim"), Some(0.5), "{text}");
        assert_eq!(v("fairrs_group_cpus_used", "/a/b"), Some(1.5), "{text}");
        for name in ["fairrs_group_cpu_max_quota_us", "fairrs_group_nr_throttled", "fairrs_group_throttled"] {
            assert_eq!(v(name, "/a/b"), None, "{name} of a group without a limit:\n{text}");
        }
    }

    #[test]
    fn the_reader_refuses_what_the_format_forbids() {
        let ok = "# HELP a_b x\n# TYPE a_b gauge\na_b{l=\"v\"} 1\n# EOF\n";
        assert!(parse(ok).is_ok());
        for bad in [
            "# HELP a_b x\n# TYPE a_b gauge\na_b{l=\"v\"} 1\n",
            "# HELP a_b x\n# TYPE a_b gauge\na_b{l=\"v\"} 1\na_b{l=\"v\"} 2\n# EOF\n",
            "# HELP a_b x\n# TYPE a_b gauge\na_b{l=\"a\"b\"} 1\n# EOF\n",
            "# HELP a_b x\n# TYPE a_b gauge\na_b{l=\"a\\qb\"} 1\n# EOF\n",
            "# HELP a_b x\n# TYPE a_b gauge\na_b{1l=\"v\"} 1\n# EOF\n",
            "# HELP 1a x\n# TYPE 1a gauge\n1a 1\n# EOF\n",
            "# HELP a_b x\na_b 1\n# EOF\n",
            "a_b 1\n# EOF\n",
            "# HELP a_b x\n# TYPE a_b gauge\na_b one\n# EOF\n",
            "# HELP a_b x \"y\"\n# TYPE a_b gauge\na_b 1\n# EOF\n",
            "# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\n# HELP a x\n# EOF\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn help_and_labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_help("a \"b\"\\\nc"), "a 'b'\\\\\\nc");
    }

    /// Every field of every report struct has a stable name: its numbers are
    /// samples under a `fairrs_` prefix, valid and distinct across the whole
    /// report; a label or a skipped field says so; a list's elements carry a
    /// label; a map of numbers names its label. A field added without these
    /// attributes fails here.
    #[test]
    fn every_metric_has_a_stable_openmetrics_name() {
        let metas = metas();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut todo = vec![metas.values().find(|m| m.attrs.top.is_some()).expect("a top struct").name.clone()];
        while let Some(sname) = todo.pop() {
            if !seen.insert(sname.clone()) {
                continue;
            }
            let m = &metas[&sname];
            let prefix = user(&m.attrs.user, "_om_prefix").unwrap_or_else(|| panic!("{sname} has no _om_prefix"));
            assert!(prefix.starts_with(scx_fairrs::metrics::OM_PREFIX) && metric_name_ok(prefix), "{sname}: {prefix}");
            for (fname, f) in &m.fields {
                let attrs = &f.attrs.user;
                let at = format!("{sname}.{fname}");
                if let Some(l) = label_name(fname, attrs) {
                    assert!(label_name_ok(&l), "{at}: label {l}");
                }
                if attrs.contains_key("_om_skip") {
                    continue;
                }
                let sample = match &f.data {
                    StatsData::Datum(k) if is_number(k) => {
                        assert!(!attrs.contains_key("_om_label"), "{at}: a number that is a label is _om_skip too");
                        true
                    }
                    StatsData::Dict { datum, .. } | StatsData::Array(datum) if is_number(datum) => {
                        assert!(attrs.contains_key("_om_label"), "{at}: its keys need a label name (_om_label)");
                        true
                    }
                    StatsData::Datum(StatsKind::Struct(s)) => {
                        todo.push(s.clone());
                        false
                    }
                    StatsData::Array(StatsKind::Struct(s)) | StatsData::Dict { datum: StatsKind::Struct(s), .. } => {
                        let inner = &metas[s];
                        assert!(
                            inner.fields.iter().any(|(n, f)| label_name(n, &f.attrs.user).is_some()),
                            "{at}: the elements of {s} need a label field (_om_label)"
                        );
                        assert!(user(&inner.attrs.user, "_om_label").is_some(), "{at}: {s} needs a struct _om_label");
                        todo.push(s.clone());
                        false
                    }
                    other => panic!("{at}: {other} is no sample; mark it _om_skip or _om_label"),
                };
                if sample {
                    let name = format!("{prefix}{fname}");
                    assert!(metric_name_ok(&name), "{at}: {name}");
                    assert!(f.attrs.desc.as_deref().is_some_and(|d| !d.is_empty()), "{at} has no desc (HELP)");
                    if let Some(other) = names.insert(name.clone(), at.clone()) {
                        panic!("{at} and {other} are both {name}");
                    }
                }
            }
        }
        assert!(names.contains_key("fairrs_cpu_util_avg") && names.contains_key("fairrs_task_load_avg"), "{names:?}");
    }
}
