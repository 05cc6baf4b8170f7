// French and English. The language comes from the device (navigator.languages) until the
// resident picks one; the choice is kept in localStorage. Every string the app shows is here.

export type Lang = 'en' | 'fr';
export const LANGS: readonly Lang[] = ['en', 'fr'];
const STORAGE_KEY = 'signalons.lang';

const en = {
  'app.name': 'Signalons',
  'app.tagline': 'Report a problem in public space',
  'nav.label': 'Main',
  'nav.map': 'Map',
  'nav.report': 'Report',
  'nav.mine': 'My reports',
  'lang.other': 'Français',
  'lang.switch': 'Afficher en français',
  'net.offline':
    'You are offline. New reports are kept on this device and sent when the connection returns.',
  'common.loading': 'Loading…',
  'common.retry': 'Try again',
  'common.close': 'Close',
  'common.skip': 'Skip to content',
  'common.colon': ': ',

  'status.submitted': 'Submitted',
  'status.acknowledged': 'Acknowledged',
  'status.scheduled': 'Scheduled',
  'status.in_progress': 'In progress',
  'status.resolved': 'Resolved',
  'status.duplicate': 'Duplicate',
  'status.not_responsible': 'Not our responsibility',
  'status.rejected': 'Rejected',
  'status.reopened': 'Reopened',
  'status.open': 'Open',
  'status.closed': 'Closed',

  'map.title': 'Reports around you',
  'map.region': 'Map of reports',
  'map.filters': 'Filters',
  'map.filters.active': 'Filters ({n} active)',
  'map.category': 'Category',
  'map.category.all': 'All categories',
  'map.status': 'Status',
  'map.status.all': 'All statuses',
  'map.status.open': 'Open (not yet fixed)',
  'map.status.closed': 'Closed',
  'map.locate': 'Show my area',
  'map.loading': 'Loading reports…',
  'map.count.0': 'No report in this area.',
  'map.count.1': '1 report in this area.',
  'map.count.n': '{n} reports in this area.',
  'map.error': 'Could not load the reports: {detail}',
  'map.list': 'Reports in this area',
  'map.list.more': 'and {n} more on the map',
  'map.known': 'Known problem: {counts}',
  'map.unavailable': 'The map could not load. The list below still works.',
  'map.cluster': '{n} reports: zoom in',
  'map.single': 'One report: zoom in',
  'map.nobasemap': 'No background map is configured; reports are drawn on a blank canvas.',

  'report.title': 'Report a problem',
  'report.where': 'Where is it?',
  'report.gps': 'Use my position',
  'report.gps.locating': 'Finding your position…',
  'report.gps.error':
    'Position unavailable ({reason}). Type an address, tap the map or type coordinates.',
  'report.gps.denied': 'permission refused',
  'report.gps.timeout': 'no answer in time',
  'report.gps.unsupported': 'not supported by this device',
  'report.position': 'Position: {lat}, {lon}',
  'report.position.none': 'No position yet.',
  'report.position.from.gps': 'from GPS, accurate to about {m} m',
  'report.position.from.map': 'placed on the map',
  'report.position.from.typed': 'typed',
  'report.position.from.address': 'at the address chosen',
  'report.map.hint': 'Tap the map or drag the marker to adjust the position.',
  'report.map.label': 'Map to place the problem',
  'report.coords': 'Or type coordinates (latitude, longitude)',
  'report.coords.hint': 'For example 42.3467, -71.0972',
  'report.coords.apply': 'Use these coordinates',
  'report.coords.invalid': 'Type a latitude and a longitude separated by a comma.',
  'report.address': 'Address or landmark (optional)',
  'report.address.hint':
    'Type a street address and choose a suggestion to place the report there, without the map.',
  'report.address.list': 'Suggested addresses',
  'report.address.searching': 'Looking for addresses…',
  'report.address.found.0':
    'No address found. Check the spelling, or use your position, the map or coordinates.',
  'report.address.found.1': '1 address found: use the arrow keys and Enter, or tap it.',
  'report.address.found.n': '{n} addresses found: use the arrow keys and Enter, or tap one.',
  'report.address.similar': 'similar spelling',
  'report.address.chosen': 'Position set to {address}.',
  'report.address.offline':
    'Address search needs a connection. Use your position or type coordinates; what you type here is still sent with the report.',
  'report.address.error':
    'Address search is unavailable right now. Use your position, the map or coordinates.',
  'report.category': 'What is the problem?',
  'report.category.choose': 'Choose a category',
  'report.category.loading': 'Loading categories…',
  'report.category.unavailable':
    'Categories could not be loaded. Connect once to the internet so that the app can keep them.',
  'report.photo': 'Photo (optional)',
  'report.photo.take': 'Take or choose a photo',
  'report.photo.remove': 'Remove the photo',
  'report.photo.alt': 'The photo you took',
  'report.photo.size': '{w} × {h} pixels, {kb} kB',
  'report.photo.note':
    'Sent with the report. Its camera details, location included, are removed.',
  'report.photo.error': 'This image could not be read.',
  'report.photo.working': 'Preparing the photo…',
  'report.description': 'Describe it in a few words (optional)',
  'report.email': 'Your email, to hear what happens (optional, never public)',
  'report.submit': 'Send the report',
  'report.need.category': 'Choose a category.',
  'report.need.position':
    'Give a position: use my position, choose an address, tap the map or type coordinates.',
  'report.errors': 'The report cannot be sent yet:',

  'route.to': 'This goes to {to}.',
  'route.unknown': 'The city receives it; no department is set for this place yet.',
  'route.outside': 'This place is outside the city served here: move the position inside it.',
  'route.checking': 'Checking who handles it…',
  'dup.title': 'Is it one of these?',
  'dup.intro': 'Already reported nearby. If it is the same problem, say “me too”: it counts, and you follow it.',
  'dup.confirm': 'Before sending: is it one of these?',
  // A number and its word never part at the end of a line (no-break spaces).
  'dup.distance.m': '{n}\u00a0m away',
  'dup.distance.km': '{n}\u00a0km away',
  'dup.reported': 'first reported {date}',
  'dup.reports.1': '1\u00a0report',
  'dup.reports.n': '{n}\u00a0reports',
  'dup.supporters.1': '1\u00a0supporter',
  'dup.supporters.n': '{n}\u00a0supporters',
  'dup.why': 'Why: {reasons}',
  'dup.reason.nearby': 'very close',
  'dup.reason.same_address': 'same address',
  'dup.reason.recent': 'reported recently',
  'dup.reason.similar_description': 'similar description',
  'dup.metoo': 'Me too',
  'dup.metoo.label': 'Me too: {name}, {distance}',
  'dup.follow': 'Follow it',
  'dup.rejected': 'Your “me too” was not counted: {detail}',
  'dup.different': 'No, it’s a different problem',
  'dup.different.done': 'You said it is a different problem.',
  'dup.show': 'Show them again',
  'dup.map': 'Already reported: {name}, {distance}',
  'dup.supported': 'Thank you: you support this problem ({supporters}) and follow it in My reports.',
  'dup.supported.again': 'You already supported this problem; you follow it in My reports.',
  'dup.saved': '“Me too” saved on this device. It will be sent when the connection returns.',
  'outbox.linked': 'Already reported — your report was added to it ({n} reports).',
  'mine.followed': 'Followed ({n})',
  'mine.followed.none': 'You follow no other problem. Say “me too” on one, or follow it, to find its news here.',
  'mine.incident': 'Problem {id}',
  'mine.support.pending': '“Me too” on problem {id}',
  'mine.follow.pending': 'Follow problem {id}',
  'mine.unfollow.pending': 'Stop following problem {id}',
  'mine.incident.open': 'Its whole history',
  'follow.follow': 'Follow',
  'follow.stop': 'Stop following',
  'follow.following': 'You follow this problem: its news is in My reports.',
  'follow.done': 'You follow problem {id}: its news is in My reports.',
  'follow.stopped': 'You no longer follow problem {id}.',
  'follow.saved': 'Saved on this device. It will be sent when the connection returns.',
  'follow.rejected': 'Could not follow problem {id}: {detail}',
  'act.title': 'Affected too?',
  'act.title.closed': 'Follow this problem',
  'act.intro':
    'Say “me too” instead of reporting it again: it counts, and you follow it. Or only follow it.',
  'act.intro.mine': 'You reported it. Follow it to find its news with the problems you follow.',
  'act.email': 'Your email, to be told of each change (optional, never public)',
  'act.supported': 'You support this problem.',
  'act.closed': 'This problem is closed ({status}). If it is back, report it again.',
  'act.report.again': 'Report it again',
  'incident.title': 'Problem {id}',
  'incident.merged': 'Found to be the same problem as problem {id}: its news is there.',
  'incident.merged.link': 'Go to problem {id}',
  'incident.page': 'This problem’s page: all its reports and its news',
  'incident.stale': 'As last seen {date}: no connection.',
  'incident.more': 'Show earlier changes',
  'incident.notfound': 'This problem does not exist.',
  'incident.description': 'As first reported',
  'due.label': 'Deadline',
  'due.by': 'Due by {date}',
  'due.overdue': 'Overdue: it was due by {date}',
  'due.overdue.short': 'Overdue',
  'error.incident_closed': 'This problem is already closed: if it is back, report it again.',
  'error.incident_not_found': 'This problem no longer exists.',

  'outbox.sent': 'Report sent: number {id}.',
  'outbox.saved': 'Report saved on this device. It will be sent when the connection returns.',
  'outbox.rejected': 'The server refused the report: {detail}',

  'mine.title': 'My reports',
  'mine.pending': 'Waiting to be sent ({n})',
  'mine.sent': 'Sent from this device ({n})',
  'mine.sent.none': 'You have not sent any report from this device yet.',
  'mine.state.pending': 'Waiting for the connection',
  'mine.state.sending': 'Sending…',
  'mine.state.rejected': 'Refused by the server',
  'mine.state.attempts': 'attempts: {n}',
  'mine.send': 'Send now',
  'mine.discard': 'Discard',
  'mine.edit': 'Correct it',
  'mine.discard.confirm': 'Confirm: discard',
  'mine.discarded': 'The report was discarded.',
  'mine.saved.at': 'Saved {date}',
  'mine.checked.at': 'Last updated {date}',
  'mine.photo.waiting': 'Photo kept on this device, sent with the report.',
  'mine.photo.sent': 'Photo sent with the report.',
  'mine.photo.sent.alt': 'The photo you sent',
  'mine.photo.local': 'Photo kept on this device only: this report was sent before photos were accepted.',
  'mine.refresh': 'Refresh',
  'mine.report': 'Report {id}',

  'report.detail.title': 'Report {id}',
  'report.detail.category': 'Category',
  'report.detail.status': 'Status',
  'report.detail.created': 'Reported',
  'report.detail.updated': 'Last change',
  'report.detail.address': 'Place',
  'report.detail.department': 'Handled by',
  'report.detail.incident': 'This problem',
  'report.detail.incident.alone': 'Only this report so far',
  'report.detail.area': 'Area',
  'report.detail.description': 'Description',
  'report.detail.notfound': 'This report does not exist.',
  'report.detail.back': 'Back to the map',
  'report.detail.photos': 'Photos',
  'photo.alt.report': 'Photo {n} of the problem, sent by a resident',
  'photo.alt.resolution': 'Photo {n} of the work, by the crew',
  'photo.open': 'Open photo {n} full size',
  'photo.kind.report': 'From a resident',
  'photo.kind.resolution': 'The work, by the crew',
  'timeline.title': 'Public history',
  'timeline.title.newest': 'Public history, newest first',
  'timeline.empty': 'No history yet.',
  'timeline.created': 'Report received',
  'timeline.status_changed': 'Status changed',
  'timeline.comment': 'Comment',
  'timeline.merged': 'Merged with another report of the same problem',
  'timeline.split': 'Found to be a different problem',
  'timeline.transition': '{from} → {to}',

  'field.category': 'Category',
  'field.latitude': 'Latitude',
  'field.longitude': 'Longitude',
  'field.location_accuracy_m': 'Accuracy',
  'field.address': 'Address',
  'field.description': 'Description',
  'field.contact_email': 'Email',
  'field.source': 'Source',
  'error.network': 'No connection to the server.',
  'error.validation_failed': 'Some fields are not valid.',
  'error.too_long': 'too long',
  'error.out_of_range': 'out of range',
  'error.missing_field': 'missing',
  'error.invalid_email': 'does not look like an email address',
  'error.invalid_type': 'not of the expected type',
  'error.unknown_category': 'This category is not known to the server.',
  'error.outside_jurisdiction': 'This place is outside the city served here.',
  'error.photo_too_large': 'The photo is too large.',
  'error.unsupported_photo_type': 'This kind of image is not accepted (JPEG, PNG or WebP only).',
  'error.photo_corrupt': 'The photo is damaged and could not be read.',
  'error.photo_too_many_pixels': 'The photo has too many pixels.',
  'error.photo_empty': 'The photo is empty.',
  'error.photo_limit_reached': 'This report has all the photos it can keep.',
  'staff.link': 'Staff sign-in',
  'staff.link.queue': 'Crew queue',
  'outbox.job.sent': 'Change to job {id} sent.',
  'outbox.job.photo': 'Photo of the work sent.',
  'outbox.job.conflict': 'A change was not applied: the job changed meanwhile. Open it to decide.',
  'outbox.job.rejected': 'The server refused a change to a job: {detail}',
};

export type MessageKey = keyof typeof en;

const fr: Record<MessageKey, string> = {
  'app.name': 'Signalons',
  'app.tagline': 'Signaler un problème dans l’espace public',
  'nav.label': 'Principale',
  'nav.map': 'Carte',
  'nav.report': 'Signaler',
  'nav.mine': 'Mes signalements',
  'lang.other': 'English',
  'lang.switch': 'Show in English',
  'net.offline':
    'Vous êtes hors ligne. Les nouveaux signalements sont gardés sur cet appareil et envoyés au retour de la connexion.',
  'common.loading': 'Chargement…',
  'common.retry': 'Réessayer',
  'common.close': 'Fermer',
  'common.skip': 'Aller au contenu',
  'common.colon': ' : ',

  'status.submitted': 'Reçu',
  'status.acknowledged': 'Pris en compte',
  'status.scheduled': 'Planifié',
  'status.in_progress': 'En cours',
  'status.resolved': 'Résolu',
  'status.duplicate': 'Doublon',
  'status.not_responsible': 'Hors de notre compétence',
  'status.rejected': 'Rejeté',
  'status.reopened': 'Rouvert',
  'status.open': 'Ouvert',
  'status.closed': 'Fermé',

  'map.title': 'Signalements autour de vous',
  'map.region': 'Carte des signalements',
  'map.filters': 'Filtres',
  'map.filters.active': 'Filtres ({n} actifs)',
  'map.category': 'Catégorie',
  'map.category.all': 'Toutes les catégories',
  'map.status': 'État',
  'map.status.all': 'Tous les états',
  'map.status.open': 'Ouverts (pas encore réglés)',
  'map.status.closed': 'Fermés',
  'map.locate': 'Voir mon quartier',
  'map.loading': 'Chargement des signalements…',
  'map.count.0': 'Aucun signalement dans cette zone.',
  'map.count.1': '1 signalement dans cette zone.',
  'map.count.n': '{n} signalements dans cette zone.',
  'map.error': 'Impossible de charger les signalements : {detail}',
  'map.list': 'Signalements dans cette zone',
  'map.list.more': 'et {n} autres sur la carte',
  'map.known': 'Problème connu : {counts}',
  'map.unavailable': 'La carte n’a pas pu se charger. La liste ci-dessous fonctionne toujours.',
  'map.cluster': '{n} signalements : zoomer',
  'map.single': 'Un signalement : zoomer',
  'map.nobasemap':
    'Aucun fond de carte n’est configuré ; les signalements sont dessinés sur un fond vide.',

  'report.title': 'Signaler un problème',
  'report.where': 'Où est-ce ?',
  'report.gps': 'Utiliser ma position',
  'report.gps.locating': 'Recherche de votre position…',
  'report.gps.error':
    'Position indisponible ({reason}). Saisissez une adresse, touchez la carte ou saisissez des coordonnées.',
  'report.gps.denied': 'autorisation refusée',
  'report.gps.timeout': 'pas de réponse à temps',
  'report.gps.unsupported': 'non disponible sur cet appareil',
  'report.position': 'Position : {lat}, {lon}',
  'report.position.none': 'Pas encore de position.',
  'report.position.from.gps': 'par GPS, précise à environ {m} m',
  'report.position.from.map': 'placée sur la carte',
  'report.position.from.typed': 'saisie',
  'report.position.from.address': 'à l’adresse choisie',
  'report.map.hint': 'Touchez la carte ou déplacez le repère pour ajuster la position.',
  'report.map.label': 'Carte pour placer le problème',
  'report.coords': 'Ou saisissez des coordonnées (latitude, longitude)',
  'report.coords.hint': 'Par exemple 42.3467, -71.0972',
  'report.coords.apply': 'Utiliser ces coordonnées',
  'report.coords.invalid': 'Saisissez une latitude et une longitude séparées par une virgule.',
  'report.address': 'Adresse ou repère (facultatif)',
  'report.address.hint':
    'Saisissez une adresse et choisissez une suggestion pour y placer le signalement, sans la carte.',
  'report.address.list': 'Adresses suggérées',
  'report.address.searching': 'Recherche des adresses…',
  'report.address.found.0':
    'Aucune adresse trouvée. Vérifiez l’orthographe, ou utilisez votre position, la carte ou des coordonnées.',
  'report.address.found.1': '1 adresse trouvée : flèches et Entrée, ou touchez-la.',
  'report.address.found.n': '{n} adresses trouvées : flèches et Entrée, ou touchez-en une.',
  'report.address.similar': 'orthographe proche',
  'report.address.chosen': 'Position placée au {address}.',
  'report.address.offline':
    'La recherche d’adresse demande une connexion. Utilisez votre position ou saisissez des coordonnées ; ce que vous tapez ici est tout de même envoyé avec le signalement.',
  'report.address.error':
    'La recherche d’adresse est indisponible pour le moment. Utilisez votre position, la carte ou des coordonnées.',
  'report.category': 'Quel est le problème ?',
  'report.category.choose': 'Choisissez une catégorie',
  'report.category.loading': 'Chargement des catégories…',
  'report.category.unavailable':
    'Les catégories n’ont pas pu être chargées. Connectez-vous une fois à Internet pour que l’application les garde.',
  'report.photo': 'Photo (facultatif)',
  'report.photo.take': 'Prendre ou choisir une photo',
  'report.photo.remove': 'Retirer la photo',
  'report.photo.alt': 'La photo que vous avez prise',
  'report.photo.size': '{w} × {h} pixels, {kb} ko',
  'report.photo.note':
    'Envoyée avec le signalement. Ses données d’appareil photo, position comprise, sont retirées.',
  'report.photo.error': 'Cette image n’a pas pu être lue.',
  'report.photo.working': 'Préparation de la photo…',
  'report.description': 'Décrivez-le en quelques mots (facultatif)',
  'report.email': 'Votre courriel, pour savoir ce qui se passe (facultatif, jamais public)',
  'report.submit': 'Envoyer le signalement',
  'report.need.category': 'Choisissez une catégorie.',
  'report.need.position':
    'Indiquez une position : utilisez votre position, choisissez une adresse, touchez la carte ou saisissez des coordonnées.',
  'report.errors': 'Le signalement ne peut pas encore être envoyé :',

  'route.to': 'Transmis à {to}.',
  'route.unknown': 'La ville le reçoit ; aucun service n’est encore désigné pour ce lieu.',
  'route.outside': 'Ce lieu est en dehors de la ville desservie ici : placez la position à l’intérieur.',
  'route.checking': 'Recherche du service responsable…',
  'dup.title': 'Est-ce l’un de ceux-ci ?',
  'dup.intro': 'Déjà signalé près d’ici. Si c’est le même problème, dites « moi aussi » : cela compte, et vous le suivez.',
  'dup.confirm': 'Avant d’envoyer : est-ce l’un de ceux-ci ?',
  'dup.distance.m': 'à {n}\u00a0m',
  'dup.distance.km': 'à {n}\u00a0km',
  'dup.reported': 'signalé pour la première fois le {date}',
  'dup.reports.1': '1\u00a0signalement',
  'dup.reports.n': '{n}\u00a0signalements',
  'dup.supporters.1': '1\u00a0soutien',
  'dup.supporters.n': '{n}\u00a0soutiens',
  'dup.why': 'Pourquoi : {reasons}',
  'dup.reason.nearby': 'tout près',
  'dup.reason.same_address': 'même adresse',
  'dup.reason.recent': 'signalé récemment',
  'dup.reason.similar_description': 'description semblable',
  'dup.metoo': 'Moi aussi',
  'dup.metoo.label': 'Moi aussi : {name}, {distance}',
  'dup.follow': 'Le suivre',
  'dup.rejected': 'Votre « moi aussi » n’a pas été compté : {detail}',
  'dup.different': 'Non, c’est un autre problème',
  'dup.different.done': 'Vous avez indiqué que c’est un autre problème.',
  'dup.show': 'Les revoir',
  'dup.map': 'Déjà signalé : {name}, {distance}',
  'dup.supported': 'Merci : vous soutenez ce problème ({supporters}) et le suivez dans Mes signalements.',
  'dup.supported.again': 'Vous soutenez déjà ce problème ; vous le suivez dans Mes signalements.',
  'dup.saved': '« Moi aussi » enregistré sur cet appareil. Il sera envoyé au retour de la connexion.',
  'outbox.linked': 'Déjà signalé — votre signalement y a été ajouté ({n} signalements).',
  'mine.followed': 'Suivis ({n})',
  'mine.followed.none':
    'Vous ne suivez aucun autre problème. Dites « moi aussi » sur l’un d’eux, ou suivez-le, pour retrouver ici ses nouvelles.',
  'mine.incident': 'Problème {id}',
  'mine.support.pending': '« Moi aussi » sur le problème {id}',
  'mine.follow.pending': 'Suivre le problème {id}',
  'mine.unfollow.pending': 'Ne plus suivre le problème {id}',
  'mine.incident.open': 'Tout son historique',
  'follow.follow': 'Suivre',
  'follow.stop': 'Ne plus suivre',
  'follow.following': 'Vous suivez ce problème : ses nouvelles sont dans Mes signalements.',
  'follow.done': 'Vous suivez le problème {id} : ses nouvelles sont dans Mes signalements.',
  'follow.stopped': 'Vous ne suivez plus le problème {id}.',
  'follow.saved': 'Gardé sur cet appareil. Ce sera envoyé au retour de la connexion.',
  'follow.rejected': 'Impossible de suivre le problème {id} : {detail}',
  'act.title': 'Vous aussi ?',
  'act.title.closed': 'Suivre ce problème',
  'act.intro':
    'Dites « moi aussi » au lieu de le signaler à nouveau : cela compte, et vous le suivez. Ou suivez-le seulement.',
  'act.intro.mine':
    'Vous l’avez signalé. Suivez-le pour retrouver ses nouvelles avec les problèmes que vous suivez.',
  'act.email': 'Votre courriel, pour être prévenu de chaque changement (facultatif, jamais public)',
  'act.supported': 'Vous soutenez ce problème.',
  'act.closed': 'Ce problème est clos ({status}). S’il revient, signalez-le à nouveau.',
  'act.report.again': 'Le signaler à nouveau',
  'incident.title': 'Problème {id}',
  'incident.merged': 'Reconnu comme le même problème que le problème {id} : ses nouvelles sont là-bas.',
  'incident.merged.link': 'Aller au problème {id}',
  'incident.page': 'La page de ce problème : tous ses signalements et ses nouvelles',
  'incident.stale': 'Tel que vu le {date} : pas de connexion.',
  'incident.more': 'Voir les changements précédents',
  'incident.notfound': 'Ce problème n’existe pas.',
  'incident.description': 'Tel que signalé la première fois',
  'due.label': 'Échéance',
  'due.by': 'À régler d’ici le {date}',
  'due.overdue': 'En retard : c’était à régler d’ici le {date}',
  'due.overdue.short': 'En retard',
  'error.incident_closed': 'Ce problème est déjà clos : s’il revient, signalez-le à nouveau.',
  'error.incident_not_found': 'Ce problème n’existe plus.',

  'outbox.sent': 'Signalement envoyé : numéro {id}.',
  'outbox.saved':
    'Signalement gardé sur cet appareil. Il sera envoyé au retour de la connexion.',
  'outbox.rejected': 'Le serveur a refusé le signalement : {detail}',

  'mine.title': 'Mes signalements',
  'mine.pending': 'En attente d’envoi ({n})',
  'mine.sent': 'Envoyés depuis cet appareil ({n})',
  'mine.sent.none': 'Vous n’avez encore envoyé aucun signalement depuis cet appareil.',
  'mine.state.pending': 'En attente de connexion',
  'mine.state.sending': 'Envoi…',
  'mine.state.rejected': 'Refusé par le serveur',
  'mine.state.attempts': 'tentatives : {n}',
  'mine.send': 'Envoyer maintenant',
  'mine.discard': 'Abandonner',
  'mine.edit': 'Le corriger',
  'mine.discard.confirm': 'Confirmer : abandonner',
  'mine.discarded': 'Le signalement a été abandonné.',
  'mine.saved.at': 'Gardé le {date}',
  'mine.checked.at': 'Mis à jour le {date}',
  'mine.photo.waiting': 'Photo gardée sur cet appareil, envoyée avec le signalement.',
  'mine.photo.sent': 'Photo envoyée avec le signalement.',
  'mine.photo.sent.alt': 'La photo que vous avez envoyée',
  'mine.photo.local':
    'Photo gardée sur cet appareil seulement : ce signalement a été envoyé avant l’acceptation des photos.',
  'mine.refresh': 'Actualiser',
  'mine.report': 'Signalement {id}',

  'report.detail.title': 'Signalement {id}',
  'report.detail.category': 'Catégorie',
  'report.detail.status': 'État',
  'report.detail.created': 'Signalé',
  'report.detail.updated': 'Dernier changement',
  'report.detail.address': 'Lieu',
  'report.detail.department': 'Pris en charge par',
  'report.detail.incident': 'Ce problème',
  'report.detail.incident.alone': 'Seulement ce signalement pour l’instant',
  'report.detail.area': 'Secteur',
  'report.detail.description': 'Description',
  'report.detail.notfound': 'Ce signalement n’existe pas.',
  'report.detail.back': 'Retour à la carte',
  'report.detail.photos': 'Photos',
  'photo.alt.report': 'Photo {n} du problème, envoyée par un habitant',
  'photo.alt.resolution': 'Photo {n} des travaux, par l’équipe',
  'photo.open': 'Ouvrir la photo {n} en grand',
  'photo.kind.report': 'D’un habitant',
  'photo.kind.resolution': 'Les travaux, par l’équipe',
  'timeline.title': 'Historique public',
  'timeline.title.newest': 'Historique public, le plus récent d’abord',
  'timeline.empty': 'Pas encore d’historique.',
  'timeline.created': 'Signalement reçu',
  'timeline.status_changed': 'Changement d’état',
  'timeline.comment': 'Commentaire',
  'timeline.merged': 'Regroupé avec un autre signalement du même problème',
  'timeline.split': 'Reconnu comme un problème distinct',
  'timeline.transition': '{from} → {to}',

  'field.category': 'Catégorie',
  'field.latitude': 'Latitude',
  'field.longitude': 'Longitude',
  'field.location_accuracy_m': 'Précision',
  'field.address': 'Adresse',
  'field.description': 'Description',
  'field.contact_email': 'Courriel',
  'field.source': 'Source',
  'error.network': 'Pas de connexion au serveur.',
  'error.validation_failed': 'Certains champs ne sont pas valides.',
  'error.too_long': 'trop long',
  'error.out_of_range': 'hors des limites',
  'error.missing_field': 'manquant',
  'error.invalid_email': 'ne ressemble pas à une adresse de courriel',
  'error.invalid_type': 'n’est pas du type attendu',
  'error.unknown_category': 'Cette catégorie est inconnue du serveur.',
  'error.outside_jurisdiction': 'Ce lieu est en dehors de la ville desservie ici.',
  'error.photo_too_large': 'La photo est trop lourde.',
  'error.unsupported_photo_type': 'Ce type d’image n’est pas accepté (JPEG, PNG ou WebP seulement).',
  'error.photo_corrupt': 'La photo est abîmée et n’a pas pu être lue.',
  'error.photo_too_many_pixels': 'La photo a trop de pixels.',
  'error.photo_empty': 'La photo est vide.',
  'error.photo_limit_reached': 'Ce signalement a déjà toutes les photos qu’il peut garder.',
  'staff.link': 'Connexion du personnel',
  'staff.link.queue': 'File des équipes',
  'outbox.job.sent': 'Changement de l’intervention {id} envoyé.',
  'outbox.job.photo': 'Photo des travaux envoyée.',
  'outbox.job.conflict': 'Un changement n’a pas été appliqué : l’intervention a changé entre-temps. Ouvrez-la pour décider.',
  'outbox.job.rejected': 'Le serveur a refusé un changement d’intervention : {detail}',
};

export const messages: Record<Lang, Record<MessageKey, string>> = { en, fr };

export type Params = Record<string, string | number>;

/** The message `key` in `lang`, with `{name}` placeholders replaced by `params`. */
export function translate(lang: Lang, key: MessageKey, params?: Params): string {
  const template = messages[lang][key] ?? messages.en[key] ?? key;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

export function isMessageKey(key: string): key is MessageKey {
  return key in en;
}

/** The first of the device's languages that we speak, else English. */
export function detectLang(languages: readonly string[] | undefined): Lang {
  for (const tag of languages ?? []) {
    const primary = tag.toLowerCase().split(/[-_]/)[0];
    if ((LANGS as readonly string[]).includes(primary)) return primary as Lang;
  }
  return 'en';
}

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

/** The language chosen earlier on this device, or the device's own. */
export function initialLang(storage: KeyValueStore | undefined, languages: readonly string[]): Lang {
  let saved: string | null = null;
  try {
    saved = storage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    // Storage can be disabled (private mode): fall back to the device's language.
  }
  if (saved && (LANGS as readonly string[]).includes(saved)) return saved as Lang;
  return detectLang(languages);
}

export function saveLang(storage: KeyValueStore | undefined, lang: Lang): void {
  try {
    storage?.setItem(STORAGE_KEY, lang);
  } catch {
    // Not persisted; the choice still applies to this visit.
  }
}

/** Plural-aware count message: `base.0`, `base.1` or `base.n`. */
export function countKey(base: 'map.count' | 'report.address.found', n: number): MessageKey {
  return n === 0 ? `${base}.0` : n === 1 ? `${base}.1` : `${base}.n`;
}

export function formatDateTime(lang: Lang, iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-US', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(date);
}

/**
 * A due date as the day it falls on in the city (`timeZone`, IANA): the server's due dates are
 * the start of the day after the last one allowed, so "due by" names that last day. The city's
 * day, not the phone's: a crew promises a day in Boston wherever the phone is set.
 */
export function formatDueDate(lang: Lang, iso: string, timeZone?: string): string {
  const lastInstant = new Date(new Date(iso).getTime() - 1);
  if (Number.isNaN(lastInstant.getTime())) return iso;
  const options: Intl.DateTimeFormatOptions = {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  };
  const locale = lang === 'fr' ? 'fr-FR' : 'en-US';
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(lastInstant);
  } catch {
    // An unknown time zone: the phone's own.
    return new Intl.DateTimeFormat(locale, options).format(lastInstant);
  }
}

export function formatCoordinate(value: number): string {
  return value.toFixed(5);
}
