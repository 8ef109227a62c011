// Acting on duplicate groups from the page: the keeper the server proposes (and one click to
// keep another copy instead), a dry run before any action, apply to one group or to all,
// undo, and "not duplicates" / "keep all" marks. Talks to /v1/dedup; app.js hands over
// its helpers (one module, no globals shared by hand).

export function dedupTools({ $, el, api, notify, fail, plural, formatBytes, reload }) {
  const keepers = {}; // group key -> image id a person chose to keep
  let pending = null; // the request the open dry run would apply

  const keeperOf = (group) => keepers[group.key] ?? group.keeper_id;

  function request(groups) {
    const action = $('#dedup-action').value;
    const body = { action, groups, keepers: {} };
    for (const key of groups || Object.keys(keepers)) if (keepers[key] != null) body.keepers[key] = keepers[key];
    if (action === 'move-to') body.target = $('#dedup-target').value.trim();
    return body;
  }

  // The dry run first: what would be kept and done, then Apply or Cancel.
  async function dryRun(groups) {
    const body = request(groups);
    if (body.action === 'move-to' && !body.target) {
      notify('Type the folder on the server to move the copies to.', 'warning');
      $('#dedup-target').focus();
      return;
    }
    try {
      const plan = await api('v1/dedup/plan', { method: 'POST', json: body });
      pending = body;
      showPlan(plan);
    } catch (error) {
      fail(error);
    }
  }

  function showPlan(plan) {
    const { summary } = plan;
    $('#dedup-summary').textContent = `${summary.text} (${formatBytes(summary.bytes)}).`;
    $('#dedup-warning').hidden = summary.undoable;
    $('#dedup-list').replaceChildren(...plan.groups.map((group) => el('li', {},
      el('strong', {}, `Keep ${group.keeper_name}`), ` — ${group.reason}`,
      group.act.length ? el('div', { class: 'muted' }, `${summary.action}: ${group.act.join(', ')}`) : null)));
    $('#dedup-apply').disabled = summary.files === 0;
    $('#dedup-confirm').showModal();
  }

  async function applyPending() {
    $('#dedup-confirm').close();
    if (!pending) return;
    const body = pending;
    pending = null;
    try {
      const report = await api('v1/dedup/apply', { method: 'POST', json: body });
      const refused = report.refused.length
        ? ` ${plural(report.refused.length, 'file was', 'files were')} refused: ${report.refused.map((r) => `${r.name} (${r.reason})`).join('; ')}`
        : '';
      notify(`${report.action}: ${plural(report.done.length, 'file')} done.${refused}`, report.refused.length ? 'warning' : 'ok');
      for (const key of body.groups || Object.keys(keepers)) delete keepers[key];
      reload();
    } catch (error) {
      fail(error);
    }
  }

  async function undo() {
    try {
      const report = await api('v1/dedup/undo', { method: 'POST' });
      const failed = report.failed.length ? ` ${plural(report.failed.length, 'file')} could not be put back.` : '';
      notify(`Undone: ${plural(report.restored.length, 'file')} put back.${failed}`, failed ? 'warning' : 'ok');
      reload();
    } catch (error) {
      fail(error);
    }
  }

  async function mark(group, kind) {
    try {
      await api('v1/dedup/marks', { method: 'POST', json: { kind, images: group.images.map((image) => image.id) } });
      notify(kind === 'distinct' ? 'Marked as not duplicates: this group will not come back.'
        : 'Marked to keep all: no action will be proposed on them again.', 'ok');
      reload();
    } catch (error) {
      fail(error);
    }
  }

  // Under a copy that is not the keeper: keep this one instead.
  function keepButton(group, image, rerender) {
    if (image.id === keeperOf(group)) return null;
    return el('button', { type: 'button', class: 'keep-this', onclick: () => { keepers[group.key] = image.id; rerender(); } },
      'Keep this');
  }

  function reasonOf(group) {
    return keepers[group.key] != null && keepers[group.key] !== group.keeper_id ? 'chosen by hand' : group.reason;
  }

  function groupActions(group) {
    const distinct = group.images.length > 1
      ? el('button', { type: 'button', onclick: () => mark(group, 'distinct') }, 'Not duplicates') : null;
    return el('div', { class: 'group-actions' },
      el('button', { type: 'button', class: 'primary', onclick: () => dryRun([group.key]) }, 'Apply to this group…'),
      distinct,
      el('button', { type: 'button', onclick: () => mark(group, 'keep') }, 'Keep all'));
  }

  function bind() {
    $('#dedup-action').addEventListener('change', () => { $('#dedup-target').hidden = $('#dedup-action').value !== 'move-to'; });
    $('#dedup-all').addEventListener('click', () => dryRun(null));
    $('#dedup-undo').addEventListener('click', undo);
    $('#dedup-apply').addEventListener('click', applyPending);
    $('#dedup-cancel').addEventListener('click', () => { pending = null; $('#dedup-confirm').close(); });
  }

  return { keeperOf, keepButton, reasonOf, groupActions, bind };
}
