import { DeploySettings } from '../config/settings'
import { DeployPlan } from '../remote/plan'
import { afterActivateScript, finishScript, healthScript, switchAndFinishScript, switchScript } from '../remote/scripts'

/**
 * The rules for what a deploy sends each host besides the upload, in one
 * place, so that the dry run prints what the deploy (fleet.ts) sends.
 */

/**
 * Host `index`'s plan: with before-activate-on `first`, the hook runs on the
 * first host only; the first host's finish reports the release list (the
 * run's outputs show the first host's), the others' do not.
 */
export function hostPlan(base: DeployPlan, settings: DeploySettings, index: number): DeployPlan {
  return { ...base, beforeActivate: settings.beforeActivateOn === 'first' && index > 0 ? '' : base.beforeActivate, listReleases: index === 0 }
}

/** With one host, no after-activate and no health check, switching and pruning share one round trip. */
export function switchesAndFinishesAtOnce(hostCount: number, plan: DeployPlan): boolean {
  return hostCount === 1 && !plan.afterActivate && !plan.health
}

/** The scripts a successful deploy runs on a host after prepare, by phase, in order. */
export function activationScripts(hostCount: number, plan: DeployPlan): Record<string, string> {
  if (switchesAndFinishesAtOnce(hostCount, plan)) return { 'switch-and-finish': switchAndFinishScript(plan) }
  return {
    switch: switchScript(plan),
    ...(plan.afterActivate ? { 'after-activate': afterActivateScript(plan) } : {}),
    ...(plan.health ? { health: healthScript(plan) } : {}),
    finish: finishScript(plan)
  }
}
