// The package ships no types: what src/observe/sources/prometheus.ts uses of its output (1.1.1).
declare module "parse-prometheus-text-format" {
  interface PlainSample {
    value: string;
    labels?: Record<string, string>;
    /** whatever followed the value: a timestamp, or an exemplar glued to it */
    timestamp_ms?: string;
  }
  /** a typed histogram or summary, folded (see prometheus.ts: types are never passed in) */
  interface FoldedSample {
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  interface Family {
    name: string;
    help: string;
    type: string;
    metrics: Array<PlainSample | FoldedSample>;
  }
  export default function parsePrometheusTextFormat(text: string): Family[];
}
