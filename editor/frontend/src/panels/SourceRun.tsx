/** The run a reused output came from: a link, or, once that run has been deleted (by hand or
 * by retention), its number marked deleted rather than a link to a page that is not found. */
export function SourceRun({ id, deleted, label = "#", testId }: { id: number; deleted?: boolean; label?: string; testId?: string }) {
  if (deleted) {
    return <span className="fm-muted" data-testid={testId} data-deleted="true" title="That run has since been deleted">{label}{id} (deleted)</span>;
  }
  return <a href={`/executions/${id}/`} data-testid={testId}>{label}{id}</a>;
}
