// What the customer asked for on their page, as the courier sees it on a stop (route, scan and
// method screens): the method and its place, and their instructions. Their words only ever go
// in as text nodes (`h` makes one of every string), never as markup.

import type { CustomerChoice, RouteStop } from '../lib/backend';
import { h } from '../lib/dom';
import { t } from '../i18n';

/** "The customer asked for: a neighbour — Ana Ruiz, 14", or `null` when they chose no method. */
export function customerAsked(choice: CustomerChoice | null): string | null {
  if (!choice?.method) return null;
  const method = t(`customer.method.${choice.method}`);
  return choice.place ? t('customer.asked_place', { method, place: choice.place }) : t('customer.asked', { method });
}

/** The stop's customer choice and instructions, or `null` when the customer asked for nothing. */
export function customerNote(stop: RouteStop): HTMLElement | null {
  const asked = customerAsked(stop.customer);
  const instructions = stop.customer?.instructions;
  if (!asked && !instructions) return null;
  return h(
    'div',
    { class: 'customer-note', testid: 'customer-note' },
    asked ? h('p', { class: 'customer-asked', testid: 'customer-asked' }, asked) : null,
    instructions
      ? h(
          'p',
          { class: 'customer-instructions' },
          h('strong', null, t('customer.instructions')),
          ' ',
          h('span', { testid: 'customer-instructions' }, instructions),
        )
      : null,
  );
}
