import type { ComponentChildren } from "preact";
import { useId } from "preact/hooks";
import type { Problem } from "../api/client";

type InputProps = {
  label: string;
  value: string;
  onInput: (value: string) => void;
  error?: string;
  hint?: string;
  type?: string;
  required?: boolean;
  autoComplete?: string;
  placeholder?: string;
  min?: number;
  max?: number;
  step?: number;
};

type Control = { id: string; "aria-invalid"?: "true"; "aria-describedby"?: string };

/** A labelled control with its hint and error shown beside it and read with it:
 * `control` gets the attributes that tie it to them. */
function Field({ label, error, hint, control }: {
  label: string; error?: string; hint?: string; control: (props: Control) => ComponentChildren;
}) {
  const id = useId();
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ");
  return (
    <div class={`field${error ? " invalid" : ""}`}>
      <label for={id}>{label}</label>
      {hint && <p class="hint" id={`${id}-hint`}>{hint}</p>}
      {control({ id, "aria-invalid": error ? "true" : undefined, "aria-describedby": described || undefined })}
      {error && <p class="field-error" id={`${id}-error`}>{error}</p>}
    </div>
  );
}

/** A labelled input whose error is shown beside it and read with it. */
export function TextField({ label, value, onInput, error, hint, ...rest }: InputProps) {
  return (
    <Field label={label} error={error} hint={hint} control={(tie) => (
      <input {...tie} value={value} onInput={(e) => onInput((e.target as HTMLInputElement).value)}
        {...(rest as Record<string, unknown>)} />
    )} />
  );
}

export function TextArea({ label, value, onInput, error, hint, rows = 4 }: {
  label: string; value: string; onInput: (v: string) => void; error?: string; hint?: string; rows?: number;
}) {
  return (
    <Field label={label} error={error} hint={hint} control={(tie) => (
      <textarea {...tie} rows={rows} value={value}
        onInput={(e) => onInput((e.target as HTMLTextAreaElement).value)} />
    )} />
  );
}

export function SelectField({ label, value, onChange, options, error, hint }: {
  label: string; value: string; onChange: (v: string) => void;
  options: { value: string; label: string }[]; error?: string; hint?: string;
}) {
  return (
    <Field label={label} error={error} hint={hint} control={(tie) => (
      <select {...tie} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
    )} />
  );
}

export function Checkbox({ label, checked, onChange }: { label: string; checked: boolean; onChange: (v: boolean) => void }) {
  const id = useId();
  return (
    <div class="check">
      <input type="checkbox" id={id} checked={checked} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />
      <label for={id}>{label}</label>
    </div>
  );
}

/** The problem of a form that no single field owns. */
export function FormProblem({ problem, fields = [] }: { problem: Problem | null; fields?: string[] }) {
  if (!problem) return null;
  const owned = fields.some((f) => problem.fields[f]);
  return owned ? null : <p role="alert" class="error">{problem.message}</p>;
}

/** A form; `label` names what it does for whoever reads the code (a visible heading names
 * it on screen: an aria-label here would collide with its fields' labels). */
export function Form({ onSubmit, children }: {
  onSubmit: () => void | Promise<void>; children: ComponentChildren; label?: string;
}) {
  return (
    <form noValidate onSubmit={(e) => { e.preventDefault(); void onSubmit(); }}>
      {children}
    </form>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return <p role="status" class="notice">{children}</p>;
}
