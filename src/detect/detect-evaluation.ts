import {
  type DetectModel,
  detectProfile,
  type RunProfile,
  type TrainOptions,
  trainModel,
} from "./detect-model.js";
import type { DetectorName } from "./detect-types.js";
import type { SketchConfig } from "./graph-sketch.js";

/**
 * Held-out evaluation of the detectors on a labelled set of runs: models are trained on benign runs
 * only, and every attack run and the held-out benign runs are checked. Pure (no store, no clock).
 */

export interface LabelledProfile {
  profile: RunProfile;
  label: "benign" | "attack";
  /** runs of the same workload are spread over the folds */
  workload: string;
}

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface Scores extends Confusion {
  precision: number;
  recall: number;
  fpr: number;
}

export type Verdicts = Record<DetectorName | "either", Confusion>;

export interface FoldOutcome {
  fold: number;
  train: string[];
  /** per checked run: its label and what each detector said */
  checked: {
    name: string;
    label: "benign" | "attack";
    behaviour: boolean;
    sketch: boolean;
    findings: number;
  }[];
}

export function scores(c: Confusion): Scores {
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 1;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 1;
  const fpr = c.fp + c.tn > 0 ? c.fp / (c.fp + c.tn) : 0;
  return { ...c, precision, recall, fpr };
}

function empty(): Confusion {
  return { tp: 0, fp: 0, tn: 0, fn: 0 };
}

function count(c: Confusion, attack: boolean, flagged: boolean): void {
  if (attack && flagged) c.tp++;
  else if (attack) c.fn++;
  else if (flagged) c.fp++;
  else c.tn++;
}

/**
 * k-fold over the benign runs, workload by workload: the i-th run of a workload is in fold i mod k.
 * Each fold trains on the other folds' benign runs and checks its own benign runs and every attack
 * run. Attack runs are counted once per fold (k times in all), benign runs once.
 */
export function crossValidate(
  runs: readonly LabelledProfile[],
  k: number,
  opts: TrainOptions & { config: SketchConfig },
): { verdicts: Verdicts; folds: FoldOutcome[] } {
  const fold = new Map<LabelledProfile, number>();
  const seen = new Map<string, number>();
  for (const r of runs) {
    if (r.label !== "benign") continue;
    const i = seen.get(r.workload) ?? 0;
    seen.set(r.workload, i + 1);
    fold.set(r, i % k);
  }
  const verdicts: Verdicts = { behaviour: empty(), sketch: empty(), either: empty() };
  const folds: FoldOutcome[] = [];
  for (let f = 0; f < k; f++) {
    const train = runs.filter((r) => r.label === "benign" && fold.get(r) !== f);
    const test = runs.filter((r) => r.label === "attack" || fold.get(r) === f);
    if (train.length === 0) continue;
    const model: DetectModel = trainModel(
      train.map((r) => r.profile),
      opts,
    );
    const outcome: FoldOutcome = { fold: f, train: train.map((r) => r.profile.name), checked: [] };
    for (const r of test) {
      const rep = detectProfile(model, r.profile, null);
      const attack = r.label === "attack";
      count(verdicts.behaviour, attack, rep.detectors.behaviour.flagged);
      count(verdicts.sketch, attack, rep.detectors.sketch.flagged);
      count(verdicts.either, attack, rep.flagged);
      outcome.checked.push({
        name: r.profile.name,
        label: r.label,
        behaviour: rep.detectors.behaviour.flagged,
        sketch: rep.detectors.sketch.flagged,
        findings: rep.findings.length,
      });
    }
    folds.push(outcome);
  }
  return { verdicts, folds };
}
