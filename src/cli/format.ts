// Output formats the commands share: text for people, JSON for scripts, GitHub Actions workflow
// commands (annotations) for CI logs.
export type OutputFormat = "text" | "json" | "github";

export const FORMATS: OutputFormat[] = ["text", "json", "github"];

// GitHub's workflow-command escaping: data escapes %, CR, LF; properties also : and ,.
const data = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
const prop = (s: string) => data(s).replace(/:/g, "%3A").replace(/,/g, "%2C");

/** One `::error …::message` line (error, warning or notice), with an optional file position. */
export function githubAnnotation(
  level: "error" | "warning" | "notice",
  title: string,
  message: string,
  at: { file?: string; line?: number; col?: number } = {},
): string {
  const props = [
    ...(at.file ? [`file=${prop(at.file)}`] : []),
    ...(at.line ? [`line=${at.line}`] : []),
    ...(at.col ? [`col=${at.col}`] : []),
    `title=${prop(title)}`,
  ];
  return `::${level} ${props.join(",")}::${data(message)}`;
}
