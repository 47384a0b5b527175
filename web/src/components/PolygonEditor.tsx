// Zones and privacy masks drawn over the camera's snapshot. Points are fractions of the frame
// (0..1, as the API stores them). Click to add points and "Finish shape" to close one; every
// shape's points can also be typed ("x,y x,y …"), so the editor works from a keyboard too.
import { useEffect, useId, useState } from "react";
import { Button, inputClass } from "./ui";

export interface Shape {
  name: string;
  polygon: number[][];
  kind: "zone" | "mask";
}

const round = (value: number) => Math.round(Math.min(1, Math.max(0, value)) * 1000) / 1000;

function pointsText(polygon: number[][]): string {
  return polygon.map(([x, y]) => `${x},${y}`).join(" ");
}

function parsePoints(text: string): number[][] | null {
  const points = text
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => pair.split(",").map(Number));
  if (points.length < 3 || points.some((p) => p.length !== 2 || p.some((n) => !Number.isFinite(n) || n < 0 || n > 1))) {
    return null;
  }
  return points;
}

export function PolygonEditor({
  image,
  zones,
  masks,
  readOnly,
  busy,
  onSave,
}: {
  image: string | null;
  zones: Shape[];
  masks: Shape[];
  readOnly: boolean;
  busy: boolean;
  onSave: (shapes: Shape[]) => void;
}) {
  const [shapes, setShapes] = useState<Shape[]>([...zones, ...masks]);
  const [draft, setDraft] = useState<number[][] | null>(null);
  const [kind, setKind] = useState<Shape["kind"]>("zone");
  const [name, setName] = useState("");
  const nameId = useId();
  const kindId = useId();
  const original = JSON.stringify([...zones, ...masks]);
  useEffect(() => setShapes(JSON.parse(original) as Shape[]), [original]);

  const addPoint = (event: React.MouseEvent<SVGSVGElement>) => {
    if (!draft) return;
    const box = event.currentTarget.getBoundingClientRect();
    setDraft([...draft, [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)]]);
  };
  const finish = () => {
    if (!draft || draft.length < 3) return;
    const fallback = `${kind === "zone" ? "Zone" : "Mask"} ${shapes.filter((s) => s.kind === kind).length + 1}`;
    setShapes([...shapes, { name: name.trim() || fallback, polygon: draft, kind }]);
    setDraft(null);
    setName("");
  };

  return (
    <div className="flex flex-col gap-3">
      <div className="relative overflow-hidden rounded-lg bg-slate-800">
        {image ? <img src={image} alt="Latest snapshot of the camera" className="block aspect-video w-full object-cover" /> : <div className="aspect-video w-full" />}
        <svg
          viewBox="0 0 1 1"
          preserveAspectRatio="none"
          className={`absolute inset-0 h-full w-full ${draft ? "cursor-crosshair" : ""}`}
          onClick={addPoint}
          role="img"
          aria-label={draft ? "Drawing: click to add points" : "Zones and masks"}
          data-testid="polygon-canvas"
        >
          {shapes.map((shape) => (
            <polygon
              key={`${shape.kind}-${shape.name}`}
              points={shape.polygon.map((p) => p.join(",")).join(" ")}
              className={shape.kind === "zone" ? "fill-sky-400/25 stroke-sky-300" : "fill-black/80 stroke-slate-300"}
              strokeWidth={0.004}
            />
          ))}
          {draft ? (
            <polyline points={draft.map((p) => p.join(",")).join(" ")} className="fill-amber-300/20 stroke-amber-300" strokeWidth={0.005} />
          ) : null}
        </svg>
      </div>
      {!readOnly ? (
        <div className="flex flex-wrap items-end gap-2">
          <div className="flex flex-col gap-1">
            <label htmlFor={kindId} className="text-sm">Shape</label>
            <select id={kindId} value={kind} onChange={(e) => setKind(e.target.value as Shape["kind"])} className={`${inputClass} w-36`}>
              <option value="zone">Zone</option>
              <option value="mask">Privacy mask</option>
            </select>
          </div>
          <div className="flex flex-col gap-1">
            <label htmlFor={nameId} className="text-sm">Name</label>
            <input id={nameId} value={name} onChange={(e) => setName(e.target.value)} className={`${inputClass} w-40`} placeholder="Driveway" />
          </div>
          {draft ? (
            <>
              <Button onClick={finish} disabled={draft.length < 3}>
                Finish shape ({draft.length} points)
              </Button>
              <Button tone="ghost" onClick={() => setDraft(null)}>
                Cancel
              </Button>
            </>
          ) : (
            <Button tone="secondary" onClick={() => setDraft([])}>
              Draw on the snapshot
            </Button>
          )}
        </div>
      ) : null}
      <ul className="flex flex-col gap-2" aria-label="Shapes">
        {shapes.map((shape, index) => (
          <li key={`${shape.kind}-${index}`} className="flex flex-wrap items-center gap-2 text-sm">
            <span className="w-28 truncate font-medium">
              {shape.name} <span className="text-slate-400">({shape.kind})</span>
            </span>
            <label className="sr-only" htmlFor={`pts-${index}`}>
              Points of {shape.name}
            </label>
            <input
              id={`pts-${index}`}
              readOnly={readOnly}
              defaultValue={pointsText(shape.polygon)}
              onBlur={(e) => {
                const parsed = parsePoints(e.target.value);
                if (parsed) setShapes(shapes.map((s, i) => (i === index ? { ...s, polygon: parsed } : s)));
                else e.target.value = pointsText(shape.polygon);
              }}
              className={`${inputClass} min-w-0 flex-1 font-mono text-xs`}
            />
            {!readOnly ? (
              <Button tone="ghost" onClick={() => setShapes(shapes.filter((_, i) => i !== index))} aria-label={`Remove ${shape.name}`}>
                Remove
              </Button>
            ) : null}
          </li>
        ))}
        {shapes.length === 0 ? <li className="text-sm text-slate-400">No zones or masks: the whole picture is watched.</li> : null}
      </ul>
      {!readOnly ? (
        <div>
          <Button onClick={() => onSave(shapes)} busy={busy} disabled={JSON.stringify(shapes) === original}>
            Save zones and masks
          </Button>
        </div>
      ) : null}
    </div>
  );
}
