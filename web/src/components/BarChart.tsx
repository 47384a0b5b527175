// A small accessible bar chart in SVG (no chart library: a few hundred bytes instead of 100 kB).
// The figures are also in a visually hidden table for screen readers.
export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ title, bars, height = 120, tone = "fill-sky-400" }: { title: string; bars: Bar[]; height?: number; tone?: string }) {
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  const width = Math.max(bars.length, 1);
  return (
    <figure className="flex flex-col gap-1">
      <figcaption className="text-sm font-medium text-slate-300">{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" className="h-32 w-full rounded bg-slate-800/40" aria-hidden="true">
        {bars.map((bar, index) => {
          const h = (bar.value / max) * (height - 4);
          return (
            <rect key={`${bar.label}-${index}`} x={index + 0.1} y={height - h} width={0.8} height={h} className={tone}>
              <title>{`${bar.label}: ${bar.value}`}</title>
            </rect>
          );
        })}
      </svg>
      <div className="flex justify-between text-xs text-slate-400" aria-hidden="true">
        <span>{bars[0]?.label}</span>
        <span>max {max}</span>
        <span>{bars[bars.length - 1]?.label}</span>
      </div>
      <table className="sr-only">
        <caption>{title}</caption>
        <tbody>
          {bars.map((bar, index) => (
            <tr key={`${bar.label}-${index}`}>
              <th scope="row">{bar.label}</th>
              <td>{bar.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
