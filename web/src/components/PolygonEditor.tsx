// Zones and privacy masks drawn over the camera's snapshot. Points are fractions of the frame
// (0..1, as the API stores them). Click to add points and "Finish shape" to close one. Without
// a pointer the drawing surface takes focus: the arrow keys move a crosshair (Shift for bigger
// steps), Enter or Space adds a point, Backspace removes the last one. Every shape's points can
// also be typed ("x,y x,y …").
import { useEffect, useId, useRef, useState } from "react";
import { Button, inputClass } from "./ui";

export interface Shape {
  name: string;
  polygon: number[][];
  kind: "zone" | "mask";
}

const round = (value: number) => Math.round(Math.min(1, Math.max(0, value)) * 1000) / 1000;

/** Cursor steps of the keyboard: 1% of the frame, 10% with Shift. */
const STEP = 0.01;
const BIG_STEP = 0.1;
const ARROWS: Record<string, [number, number]> = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};
/** Point markers are ellipses so they look round on the 16:9 frame the viewBox stretches over. */
const DOT = 0.016;
const DOT_X = (DOT * 9) / 16;
const percent = (value: number) => `${Math.round(value * 100)}%`;

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
  const [cursor, setCursor] = useState<[number, number]>([0.5, 0.5]);
  const [surfaceFocused, setSurfaceFocused] = useState(false);
  const nameId = useId();
  const kindId = useId();
  const drawId = useId();
  const helpId = useId();
  const surface = useRef<HTMLDivElement>(null);
  // Where focus goes after the next render: the surface once drawing starts, the "Draw"
  // button once it ends (the button that had focus is gone by then).
  const focusNext = useRef<"surface" | "draw" | null>(null);
  const original = JSON.stringify([...zones, ...masks]);
  useEffect(() => setShapes(JSON.parse(original) as Shape[]), [original]);
  useEffect(() => {
    if (focusNext.current === "surface") surface.current?.focus();
    else if (focusNext.current === "draw") document.getElementById(drawId)?.focus();
    focusNext.current = null;
  });

  const addPoint = (event: React.MouseEvent<SVGSVGElement>) => {
    if (!draft) return;
    const box = event.currentTarget.getBoundingClientRect();
    const point: [number, number] = [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)];
    setCursor(point);
    setDraft([...draft, point]);
  };
  const onSurfaceKey = (event: React.KeyboardEvent<HTMLDivElement>) => {
    if (!draft || event.altKey || event.ctrlKey || event.metaKey) return;
    const arrow = ARROWS[event.key];
    if (arrow) {
      const step = event.shiftKey ? BIG_STEP : STEP;
      setCursor(([x, y]) => [round(x + arrow[0] * step), round(y + arrow[1] * step)]);
    } else if (event.key === "Enter" || event.key === " ") {
      setDraft([...draft, cursor]);
    } else if (event.key === "Backspace") {
      setDraft(draft.slice(0, -1));
    } else {
      return;
    }
    event.preventDefault();
  };
  const startDrawing = () => {
    focusNext.current = "surface";
    setDraft([]);
  };
  const stopDrawing = () => {
    focusNext.current = "draw";
    setDraft(null);
  };
  const finish = () => {
    if (!draft || draft.length < 3) return;
    const fallback = `${kind === "zone" ? "Zone" : "Mask"} ${shapes.filter((s) => s.kind === kind).length + 1}`;
    setShapes([...shapes, { name: name.trim() || fallback, polygon: draft, kind }]);
    stopDrawing();
    setName("");
  };
  const drawing = draft !== null && !readOnly;

  return (
    <div className="flex flex-col gap-3">
      <div
        ref={surface}
        className="relative overflow-hidden rounded-lg bg-slate-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-amber-300"
        {...(drawing
          ? {
              tabIndex: 0,
              role: "application",
              "aria-label": `Drawing surface: new ${kind === "zone" ? "zone" : "privacy mask"}`,
              "aria-describedby": helpId,
              onKeyDown: onSurfaceKey,
              onFocus: () => setSurfaceFocused(true),
              onBlur: () => setSurfaceFocused(false),
            }
          : {})}
        data-testid="polygon-surface"
      >
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
            <g data-testid="polygon-draft">
              <polyline points={draft.map((p) => p.join(",")).join(" ")} className="fill-amber-300/20 stroke-amber-300" strokeWidth={0.005} />
              {draft.map(([x, y], index) => (
                <ellipse key={index} data-point={index + 1} cx={x} cy={y} rx={DOT_X} ry={DOT} className="fill-amber-300 stroke-slate-950" strokeWidth={0.002} />
              ))}
            </g>
          ) : null}
          {drawing && surfaceFocused ? (
            <g data-testid="polygon-cursor" className="stroke-amber-300" fill="none">
              <line x1={cursor[0]} y1={0} x2={cursor[0]} y2={1} strokeWidth={1} strokeDasharray="4 4" vectorEffect="non-scaling-stroke" />
              <line x1={0} y1={cursor[1]} x2={1} y2={cursor[1]} strokeWidth={1} strokeDasharray="4 4" vectorEffect="non-scaling-stroke" />
              <ellipse cx={cursor[0]} cy={cursor[1]} rx={DOT_X * 2} ry={DOT * 2} strokeWidth={2} vectorEffect="non-scaling-stroke" />
            </g>
          ) : null}
        </svg>
      </div>
      {drawing ? (
        <div className="flex flex-col gap-1 text-sm">
          <p id={helpId} className="text-slate-300">
            Arrow keys move the cursor, Shift with an arrow moves it further, Enter or Space adds a point, Backspace removes the last one. Clicking adds a point too.
          </p>
          <p aria-live="polite" className="font-mono text-xs text-slate-300" data-testid="polygon-position">
            Cursor at {percent(cursor[0])}, {percent(cursor[1])} · {draft.length} {draft.length === 1 ? "point" : "points"}
          </p>
        </div>
      ) : null}
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
              <Button tone="ghost" onClick={stopDrawing}>
                Cancel
              </Button>
            </>
          ) : (
            <Button id={drawId} tone="secondary" onClick={startDrawing}>
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
