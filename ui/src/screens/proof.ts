// Proof: what the chosen method and the policy ask for at the door — who took the parcels, where
// (the neighbour's house number, the safe place, the pickup point), an ID and age check, a
// photo, a signature — then confirm. Confirm commits the delivery on the phone (durably): from
// then on it is safe whatever happens. The core checks every step again; its answer names the
// one missing, and an age below the minimum turns into "refused: age".

import { currentLocation } from '../lib/location';
import type { Ctx, Screen } from '../app';
import { ID_TYPES, type HandoverView, type IdCheckEntry, type IdType, type Verification } from '../lib/backend';
import { h, icon, ICONS } from '../lib/dom';
import { scanWithPlugin, ScanError } from '../lib/scanner';
import { errorText, t, type MessageKey } from '../i18n';
import { appBar, layout } from './chrome';
import { photoField } from './photo';
import { signaturePad } from './signature';

type ProofView = Extract<HandoverView, { step: 'proof' }>;

const VERIFICATION_TEXT: Record<Verification, MessageKey> = {
  not_required: 'proof.no_check',
  online_code: 'proof.verified_online',
  offline_code: 'proof.verified_offline',
  token: 'proof.verified_token',
};

/** A big radio or checkbox with its label, like the exceptions screen's reasons. */
function option(type: 'radio' | 'checkbox', id: string, name: string, label: string, onchange: () => void): [HTMLLabelElement, HTMLInputElement] {
  const input = h('input', { type, id, name, testid: id, onchange });
  return [h('label', { class: 'option', for: id }, input, h('span', null, label)), input];
}

function textInput(id: string, hint: string, extra: Record<string, string> = {}): HTMLInputElement {
  return h('input', { id, class: 'input', testid: id, autocomplete: 'off', enterkeyhint: 'done', placeholder: hint, ...extra });
}

/** A part of the form: its elements, and what it holds or why it cannot be sent yet. */
type Part<T> = { el: HTMLElement; read(): { ok: T } | { err: MessageKey } };

/**
 * Where the parcels went: the neighbour's house number, a safe place, a pickup point's id.
 * When the customer asked for this very method on their page, the place they gave is filled
 * in (and said so); the courier can change it.
 */
function placePart(ctx: Ctx, view: ProofView, changed: () => void): Part<string> | null {
  const method = view.door.method;
  if (method === 'hand_to_recipient') return null;
  const customer = view.stop.customer;
  const given = customer && customer.method === method ? (customer.place ?? '') : '';
  const input = textInput('place-input', '');
  input.value = given;
  input.addEventListener('input', changed);
  const fromCustomer = given ? h('p', { class: 'muted small', testid: 'place-from-customer' }, t('proof.place_from_customer')) : null;
  const need: MessageKey =
    method === 'neighbour' ? 'proof.need_house' : method === 'safe_place' ? 'proof.need_safe_place' : 'proof.need_pickup';
  const read = () => (input.value.trim() ? { ok: input.value.trim() } : { err: need });

  if (method === 'neighbour') {
    input.placeholder = t('proof.house_hint');
    return {
      el: h('div', { class: 'stack' }, h('label', { class: 'label', for: 'place-input' }, t('proof.house_label')), input, fromCustomer),
      read,
    };
  }
  if (method === 'pickup_point') {
    input.placeholder = t('proof.pickup_hint');
    input.autocapitalize = 'characters';
    const scan =
      ctx.platform === 'mobile'
        ? h(
            'button',
            {
              class: 'btn secondary',
              type: 'button',
              testid: 'place-scan',
              onclick: async () => {
                try {
                  input.value = (await scanWithPlugin('label')).trim();
                  changed();
                } catch (e) {
                  if (!(e instanceof ScanError && e.reason === 'cancelled')) input.placeholder = t('scan.camera_unavailable');
                }
              },
            },
            icon(ICONS.scan),
            t('proof.pickup_scan'),
          )
        : null;
    return {
      el: h('div', { class: 'stack' }, h('label', { class: 'label', for: 'place-input' }, t('proof.pickup_label')), input, fromCustomer, scan),
      read,
    };
  }

  // A safe place: one the shipper allows, or described by the courier.
  input.placeholder = t('proof.safe_place_hint');
  const describe = h('div', { class: 'stack' }, h('label', { class: 'label', for: 'place-input' }, t('proof.safe_place_describe')), input);
  if (view.safe_places.length === 0) {
    return { el: h('div', { class: 'stack' }, h('span', { class: 'label' }, t('proof.safe_place_label')), describe, fromCustomer), read };
  }
  let chosen: string | null = null;
  const pick = (place: string | null) => () => {
    chosen = place;
    describe.hidden = place !== null;
    changed();
  };
  const choices = view.safe_places.map((place, i) => option('radio', `safe-place-${i}`, 'safe-place', place, pick(place)));
  choices.push(option('radio', 'safe-place-other', 'safe-place', t('proof.safe_place_other'), pick(null)));
  describe.hidden = true;
  // The customer's place: the shipper's place of that name, else described as another one.
  if (given) {
    const same = view.safe_places.findIndex((p) => p.trim().toLowerCase() === given.trim().toLowerCase());
    if (same >= 0) {
      chosen = view.safe_places[same]!;
      input.value = '';
    } else {
      describe.hidden = false;
    }
    choices[same >= 0 ? same : choices.length - 1]![1].checked = true;
  }
  return {
    el: h(
      'div',
      { class: 'stack' },
      h(
        'fieldset',
        { class: 'options', testid: 'safe-places' },
        h('legend', { class: 'label' }, t('proof.safe_place_label')),
        choices.map(([label]) => label),
      ),
      describe,
      fromCustomer,
    ),
    read: () => (chosen !== null ? { ok: chosen } : read()),
  };
}

/**
 * The ID (and age) check: the kind of ID seen, the year of birth or a tap that the minimum age
 * is met, and that the courier saw it in person. Never the ID's number, and no photo of it.
 */
function idPart(minimumAge: number | undefined, changed: () => void): Part<IdCheckEntry> {
  let type: IdType | null = null;
  const types = ID_TYPES.map((id) => option('radio', `id-type-${id}`, 'id-type', t(`id.${id}`), () => ((type = id), changed()))[0]);
  const [seenLabel, seen] = option('checkbox', 'id-seen', 'id-seen', t('id.seen'), changed);
  const age = minimumAge ?? 0;
  const year = textInput('id-year', t('id.year_hint'), { inputmode: 'numeric', pattern: '[0-9]*', maxlength: '4' });
  const [meetsLabel, meets] = option('checkbox', 'id-meets-age', 'id-meets-age', t('id.meets_age', { age }), () => {
    if (meets.checked) year.value = '';
    changed();
  });
  // One or the other: a typed year unticks the tap, the tap clears the year.
  year.addEventListener('input', () => {
    year.value = year.value.replace(/\D/g, '');
    if (year.value) meets.checked = false;
    changed();
  });
  const ageFields = minimumAge
    ? [
        h('p', { class: 'lead', testid: 'id-min-age' }, t('id.min_age', { age })),
        h('label', { class: 'label', for: 'id-year' }, t('id.year_label')),
        year,
        h('p', { class: 'id-or', 'aria-hidden': 'true' }, t('id.or')),
        meetsLabel,
      ]
    : null;
  return {
    el: h(
      'section',
      { class: 'stack id-check', testid: 'id-section', 'aria-labelledby': 'id-title' },
      h('h2', { class: 'section-title', id: 'id-title' }, t('id.title')),
      h('p', { class: 'id-warning', testid: 'id-no-number' }, icon(ICONS.warning), h('span', null, t('id.no_number'))),
      h('fieldset', { class: 'options id-types' }, h('legend', { class: 'label' }, t('id.type_label')), types),
      ageFields,
      seenLabel,
    ),
    read() {
      if (!type) return { err: 'id.need_type' };
      const entry: IdCheckEntry = { id_type: type, courier_confirmed: seen.checked };
      if (minimumAge) {
        if (year.value) {
          if (!/^(19|20)\d\d$/.test(year.value)) return { err: 'id.bad_year' };
          entry.year_of_birth = Number(year.value);
        } else if (meets.checked) {
          entry.meets_minimum_age = true;
        } else {
          return { err: 'id.need_age' };
        }
      }
      return seen.checked ? { ok: entry } : { err: 'id.need_seen' };
    },
  };
}

export function proofScreen(ctx: Ctx): Screen {
  const view = ctx.state.view as ProofView;
  const door = view.door;
  const method = door.method;

  const check = h(
    'div',
    { class: `verified ${view.verification === 'offline_code' ? 'offline' : 'good'}`, testid: 'proof-verification', 'data-verification': view.verification },
    icon(view.verification === 'offline_code' ? ICONS.cloudOff : ICONS.check, 28),
    h('span', null, t(VERIFICATION_TEXT[view.verification])),
  );
  const offline = view.offline
    ? h('p', { class: 'offline-label', testid: 'offline-label' }, icon(ICONS.cloudOff, 20), h('span', null, t('sync.offline')))
    : null;

  const error = h('p', { class: 'field-error', role: 'alert', testid: 'proof-error', hidden: true });
  const showError = (msg: string | null) => {
    error.textContent = msg ?? '';
    error.hidden = msg === null;
    if (msg) error.scrollIntoView?.({ block: 'nearest' });
  };
  const changed = () => showError(null);

  // Nobody signs for a safe place or a pickup point: the core names the stop's recipient.
  const named = method === 'hand_to_recipient' || method === 'neighbour';
  const name = named
    ? h('input', {
        id: 'recipient-name',
        class: 'input',
        testid: 'recipient-name',
        autocomplete: 'off',
        autocapitalize: 'words',
        enterkeyhint: 'done',
        placeholder: method === 'neighbour' ? t('proof.neighbour_hint') : t('proof.name_hint'),
        value: method === 'neighbour' ? '' : view.stop.recipient_name,
      })
    : null;
  const place = placePart(ctx, view, changed);
  const id = door.id_check || door.minimum_age ? idPart(door.minimum_age, changed) : null;

  // Whether a photo is needed is the chosen method's step (the manifest's door steps, merged by
  // the core); a parcel flagged for a photo is offered the field without it being required.
  const photoNeeded = door.photo_required;
  const photo =
    photoNeeded || view.stop.parcels.some((p) => p.photo_required)
      ? photoField(
          ctx,
          method === 'safe_place' ? t('proof.safe_place_photo') : t('proof.photo_label'),
          photoNeeded ? t('proof.photo_required') : null,
          changed,
        )
      : null;

  const confirm = h('button', { class: 'btn primary big', type: 'submit', form: 'proof-form', testid: 'confirm-proof' }, icon(ICONS.check), t('proof.confirm'));
  const signature = door.signature_required
    ? signaturePad((signed) => {
        confirm.disabled = !signed;
        if (signed) changed();
      })
    : null;
  if (signature) confirm.disabled = true;

  let idCheck: IdCheckEntry | null = null;
  const refuseAge = h('button', { class: 'btn danger big', type: 'button', testid: 'record-refused-age' }, t('id.record_refused'));
  refuseAge.addEventListener('click', async () => {
    refuseAge.disabled = true;
    const v = await ctx.run(() => ctx.backend.reportException('refused_age', null, idCheck));
    refuseAge.disabled = false;
    if (v) ctx.setView(v, 'refused_age');
  });
  const ageRefusal = h(
    'div',
    { class: 'stack age-refusal', role: 'alert', testid: 'age-refusal', hidden: true },
    h('p', { class: 'lead' }, t('id.under_age', { age: door.minimum_age ?? 18 })),
    refuseAge,
  );

  const submit = async () => {
    ageRefusal.hidden = true;
    const who = name?.value.trim() ?? '';
    if (name && !who) return showError(t(method === 'neighbour' ? 'proof.need_neighbour' : 'proof.need_name'));
    const where = place?.read();
    if (where && 'err' in where) return showError(t(where.err));
    const checked = id?.read();
    if (checked && 'err' in checked) return showError(t(checked.err));
    idCheck = checked?.ok ?? null;
    if (photoNeeded && !photo?.has()) return showError(t('proof.need_photo'));
    if (signature?.isEmpty()) return showError(t('proof.need_signature'));
    showError(null);
    confirm.disabled = true;
    const r = await ctx.attempt(async () => {
      if (ctx.platform === 'mobile') {
        // Best effort: the position goes with the proof when the phone has one.
        await ctx.backend.setLocation(await currentLocation()).catch(() => null);
      }
      const photo_path = photo ? await photo.save() : null;
      const signature_path = signature ? await ctx.backend.savePhoto(await signature.png()) : null;
      return ctx.backend.submitProof({
        recipient_name: who,
        photo_path,
        signature_path,
        place: where?.ok ?? null,
        id_check: idCheck,
      });
    });
    confirm.disabled = false;
    if ('ok' in r) return ctx.setView(r.ok);
    if (r.err.code === 'age_not_met') {
      ageRefusal.hidden = false;
      ageRefusal.scrollIntoView?.({ block: 'nearest' });
    } else {
      showError(errorText(r.err.code));
    }
  };

  const form = h(
    'form',
    {
      id: 'proof-form',
      class: 'stack',
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        void submit();
      },
    },
    name
      ? [h('label', { class: 'label', for: 'recipient-name' }, method === 'neighbour' ? t('proof.neighbour_label') : t('proof.name_label')), name]
      : null,
    place?.el,
    id?.el,
    photo?.el,
    signature?.el,
    error,
    ageRefusal,
  );

  const el = layout(
    appBar(t('proof.title')),
    h(
      'div',
      { class: 'stack proof', testid: 'proof-screen', 'data-method': method },
      check,
      offline,
      h(
        'div',
        { class: 'stop-card compact' },
        h('div', { class: 'stop-address' }, view.stop.address),
        h(
          'div',
          { class: 'stop-meta' },
          view.stop.recipient_name,
          ' · ',
          view.scanned.length === 1 ? t('route.parcel') : t('route.parcels', { count: view.scanned.length }),
        ),
        h('div', { class: 'door-method', testid: 'proof-method' }, t(`method.${method}`)),
      ),
      form,
      h('button', { class: 'link-btn', type: 'button', testid: 'proof-cant-deliver', onclick: () => ctx.setOverlay('exceptions') }, t('scan.cant_deliver')),
    ),
    confirm,
  );
  return {
    el,
    destroy() {
      photo?.destroy();
      signature?.destroy();
    },
  };
}
